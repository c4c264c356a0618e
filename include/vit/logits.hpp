// Reductions over one row of classifier outputs, shared by the loss, the evaluation and the programs.
#pragma once

namespace vit {

// The index of the largest of z[0..n), the first one on ties (as torch.argmax). n > 0.
int argmax(const float* z, int n);

// log Σ_k exp(z_k), computed as m + log Σ_k exp(z_k - m) with m = max_k z_k so that no exp overflows,
// the sum in double. log p_k = z_k - log_sum_exp(z) is the log-softmax. n > 0.
double log_sum_exp(const float* z, int n);

}  // namespace vit
