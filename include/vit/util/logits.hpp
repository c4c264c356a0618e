// Reductions over one row of classifier outputs, shared by the loss, the evaluation and the programs.
#pragma once
#include <string>
#include <vector>

namespace vit {

// The index of the largest of z[0..n), the first one on ties (as torch.argmax). n > 0.
int argmax(const float* z, int n);

// log Σ_k exp(z_k), computed as m + log Σ_k exp(z_k - m) with m = max_k z_k so that no exp overflows,
// the sum in double. log p_k = z_k - log_sum_exp(z) is the log-softmax. n > 0.
double log_sum_exp(const float* z, int n);

// The gradient of Σ_i z_{i, classes[i]} with respect to z (rows, K): one at (i, classes[i]) for the
// first classes.size() rows, zero elsewhere; dz is resized to at least rows * K. Throws ConfigError
// ("<what>: class k out of range [0, K)") for a class outside [0, K).
void one_hot_rows(const std::vector<int>& classes, int K, int rows, std::vector<float>& dz, const std::string& what);

}  // namespace vit
