#include "explain_evaluate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <random>
#include <sstream>

#include "image_batches.hpp"

namespace fs = std::filesystem;

namespace vit_cli {
namespace {

// Every image of a folder (recursively), decoded and preprocessed on worker threads; failures warned.
std::vector<float> read_folder(const std::string& dir, const vit::PreprocessConfig& pre, int workers, size_t& count) {
    size_t failed = 0;
    const std::vector<std::string> paths = collect_inputs({dir}, failed);
    if (paths.empty()) throw vit::IoError("no images found in " + dir);
    const int batch = 256;
    ImageBatches loader(paths, pre, batch, workers);
    const size_t floats = loader.image_floats();
    std::vector<float> out;
    out.reserve(paths.size() * floats);
    std::vector<size_t> ok;
    for (int b = 0; b < loader.num_batches(); ++b) {
        const float* x = loader.wait_decoded(b, ok, failed);
        out.insert(out.end(), x, x + ok.size() * floats);
        loader.release(b);
    }
    count = out.size() / floats;
    return out;
}

// The evaluation images (N, C, H, W), normalised for the model. A folder with a test/ subfolder (the
// layout `vit train` reads) contributes that split only; binary datasets their test split; any other
// folder all of its images.
std::vector<float> load_images(const vit::Model& model, const std::string& path, int workers, size_t& count) {
    const vit::PreprocessConfig& pre = model.preprocess();
    std::error_code ec;
    if (fs::is_directory(fs::path(path) / "test", ec)) return read_folder((fs::path(path) / "test").string(), pre, workers, count);
    vit::LoadOptions lo;
    lo.channels = pre.channels;
    lo.height = pre.height;
    lo.width = pre.width;
    lo.threads = workers;
    lo.warn = [](const std::string& m) { warn(m); };
    vit::DataSplit split;
    try {
        split = vit::load_dataset(path, lo);
    } catch (const vit::ConfigError&) {
        // No test split: an unlabelled folder of images is just as good here.
        if (!fs::is_directory(path, ec)) throw;
        return read_folder(path, pre, workers, count);
    }
    const vit::Dataset& d = split.test;
    const size_t hw = size_t(d.height) * d.width, C = size_t(d.channels);
    std::vector<float> out(d.size() * C * hw);
    for (size_t i = 0; i < d.size(); ++i) {
        const uint8_t* src = d.image(i);
        for (size_t c = 0; c < C; ++c)
            for (size_t p = 0; p < hw; ++p)
                out[(i * C + c) * hw + p] = (src[p * C + c] / 255.0f - pre.mean[c]) / pre.std[c];
    }
    count = d.size();
    return out;
}

struct MapScore {
    std::string name;
    double deletion = 0, insertion = 0, central = 0;
};

// Share of a map's mass on the patches whose centres lie in the middle half of the rows and columns.
double central_share(const float* map, int gh, int gw) {
    double inside = 0, total = 0;
    for (int r = 0; r < gh; ++r)
        for (int c = 0; c < gw; ++c) {
            const double v = std::max(0.0f, map[r * gw + c]);
            total += v;
            const double y = (r + 0.5) / gh, x = (c + 0.5) / gw;
            if (y >= 0.25 && y < 0.75 && x >= 0.25 && x < 0.75) inside += v;
        }
    return total > 0 ? inside / total : 0.0;
}

double trapezoid(const std::vector<double>& f, const std::vector<double>& p) {
    double area = 0;
    for (size_t s = 1; s < f.size(); ++s) area += (f[s] - f[s - 1]) * (p[s] + p[s - 1]) / 2;
    return area;
}

}  // namespace

int evaluate_faithfulness(const vit::Model& model, const FaithfulnessOptions& opts) {
    const auto start = std::chrono::steady_clock::now();
    const vit::ViTConfig& cfg = model.config();
    size_t total = 0;
    const std::vector<float> all = load_images(model, opts.data, opts.workers, total);
    const size_t floats = size_t(cfg.in_chans) * cfg.img_h * cfg.img_w;
    // A subset spread evenly over the set: folder datasets come sorted by class, so the first N
    // images would cover only the first classes.
    const size_t N = opts.limit > 0 ? std::min(opts.limit, total) : total;
    std::vector<size_t> pick(N);
    for (size_t i = 0; i < N; ++i) pick[i] = i * total / N;
    info("faithfulness on " + std::to_string(N) + " of " + std::to_string(total) + " images from " + opts.data);

    const int gh = cfg.grid_h(), gw = cfg.grid_w(), P = cfg.num_patches(), ps = cfg.patch_size;
    const int K = cfg.num_classes;
    const vit::PrefixTokens prefix = vit::prefix_tokens(cfg);
    const int step = std::max(1, P / 16);
    const int steps = (P + step - 1) / step;  // curve points 0..steps
    std::vector<double> fraction(size_t(steps) + 1);
    for (int s = 0; s <= steps; ++s) fraction[size_t(s)] = double(std::min(s * step, P)) / P;

    const int B = static_cast<int>(std::max<size_t>(1, std::min<size_t>(size_t(opts.batch), N)));
    vit::Runner runner(model, B, vit::RunOptions{false, 0});
    auto probs_of = [&](const float* x, int n, std::vector<float>& probs) {
        probs.resize(size_t(n) * K);
        vit::softmax_rows(runner.forward(x, n), n, K, probs.data());
    };
    // The all-zero image ends every deletion curve and starts every insertion curve.
    std::vector<float> blank_probs;
    {
        const std::vector<float> zeros(floats, 0.0f);
        probs_of(zeros.data(), 1, blank_probs);
    }

    // The centre prior: a Gaussian over the patch grid, sigma a quarter of the grid.
    std::vector<float> centre(static_cast<size_t>(P));
    for (int r = 0; r < gh; ++r)
        for (int c = 0; c < gw; ++c) {
            const double dy = (r + 0.5 - gh / 2.0) / (gh / 4.0), dx = (c + 0.5 - gw / 2.0) / (gw / 4.0);
            centre[size_t(r * gw + c)] = static_cast<float>(std::exp(-(dx * dx + dy * dy) / 2));
        }

    std::vector<MapScore> scores = {{"random (seed " + std::to_string(opts.seed) + ")"},
                                    {"centre prior"},
                                    {"rollout mean d0"},
                                    {"rollout max d0.9"},
                                    {"gradient rollout d0.9"}};
    std::vector<float> x, del, ins, probs;
    std::vector<int> order(static_cast<size_t>(P));
    for (size_t s0 = 0; s0 < N; s0 += size_t(B)) {
        const int n = static_cast<int>(std::min<size_t>(size_t(B), N - s0));
        x.resize(size_t(n) * floats);
        for (int i = 0; i < n; ++i) std::memcpy(&x[size_t(i) * floats], &all[pick[s0 + size_t(i)] * floats], floats * 4);
        probs_of(x.data(), n, probs);
        std::vector<int> pred(static_cast<size_t>(n));
        std::vector<double> p0(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            const float* p = &probs[size_t(i) * K];
            pred[size_t(i)] = static_cast<int>(std::max_element(p, p + K) - p);
            p0[size_t(i)] = p[pred[size_t(i)]];
        }
        const vit::Tensor xt({n, cfg.in_chans, cfg.img_h, cfg.img_w}, x);
        const vit::AttentionCapture cap = vit::capture_attention(model, xt, pred, n, true);
        vit::RolloutOptions mean0, max9, grad9;
        max9.fusion = vit::HeadFusion::Max;
        max9.discard_ratio = grad9.discard_ratio = 0.9f;
        std::vector<vit::Tensor> maps(5, vit::Tensor({n, P}));
        for (int i = 0; i < n; ++i) {
            std::mt19937_64 rng(opts.seed * 1000003 + pick[s0 + size_t(i)]);  // per image, whatever the batch
            std::uniform_real_distribution<float> u(0.0f, 1.0f);
            for (int j = 0; j < P; ++j) maps[0].data[size_t(i * P + j)] = u(rng);
            std::copy(centre.begin(), centre.end(), maps[1].data.begin() + i * P);
        }
        maps[2] = vit::attention_rollout(cap.attn, prefix, mean0);
        maps[3] = vit::attention_rollout(cap.attn, prefix, max9);
        maps[4] = vit::gradient_rollout(cap.attn, cap.grad, prefix, grad9);

        for (size_t m = 0; m < maps.size(); ++m) {
            std::vector<std::vector<int>> ranks(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) {
                const float* v = maps[m].ptr() + size_t(i) * P;
                scores[m].central += central_share(v, gh, gw);
                std::iota(order.begin(), order.end(), 0);
                std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
                ranks[size_t(i)] = order;
            }
            del = x;
            ins.assign(x.size(), 0.0f);
            std::vector<std::vector<double>> dcurve(static_cast<size_t>(n)), icurve(static_cast<size_t>(n));
            for (int i = 0; i < n; ++i) {
                dcurve[size_t(i)] = {p0[size_t(i)]};
                icurve[size_t(i)] = {blank_probs[size_t(pred[size_t(i)])]};
            }
            for (int s = 1; s <= steps; ++s) {
                if (s == steps) {  // everything removed / inserted: the blank and the original
                    for (int i = 0; i < n; ++i) {
                        dcurve[size_t(i)].push_back(blank_probs[size_t(pred[size_t(i)])]);
                        icurve[size_t(i)].push_back(p0[size_t(i)]);
                    }
                    break;
                }
                for (int i = 0; i < n; ++i)
                    for (int r = (s - 1) * step; r < s * step; ++r) {
                        const int patch = ranks[size_t(i)][size_t(r)], py = patch / gw * ps, px = patch % gw * ps;
                        for (int c = 0; c < cfg.in_chans; ++c)
                            for (int y = py; y < py + ps; ++y) {
                                const size_t off = size_t(i) * floats + (size_t(c) * cfg.img_h + y) * cfg.img_w + px;
                                std::fill_n(&del[off], ps, 0.0f);
                                std::copy_n(&x[off], ps, &ins[off]);
                            }
                    }
                probs_of(del.data(), n, probs);
                for (int i = 0; i < n; ++i) dcurve[size_t(i)].push_back(probs[size_t(i) * K + pred[size_t(i)]]);
                probs_of(ins.data(), n, probs);
                for (int i = 0; i < n; ++i) icurve[size_t(i)].push_back(probs[size_t(i) * K + pred[size_t(i)]]);
            }
            for (int i = 0; i < n; ++i) {
                scores[m].deletion += trapezoid(fraction, dcurve[size_t(i)]);
                scores[m].insertion += trapezoid(fraction, icurve[size_t(i)]);
            }
        }
    }

    char line[160];
    std::ostringstream table, csv;
    std::snprintf(line, sizeof line, "%-24s %13s %14s %13s\n", "map", "deletion AUC", "insertion AUC", "central mass");
    table << line;
    csv << "map,deletion_auc,insertion_auc,central_mass,images\n";
    for (auto& sc : scores) {
        sc.deletion /= double(N);
        sc.insertion /= double(N);
        sc.central /= double(N);
        std::snprintf(line, sizeof line, "%-24s %13.3f %14.3f %13.3f\n", sc.name.c_str(), sc.deletion, sc.insertion,
                      sc.central);
        table << line;
        std::snprintf(line, sizeof line, "%s,%.6f,%.6f,%.6f,%zu\n", sc.name.c_str(), sc.deletion, sc.insertion,
                      sc.central, N);
        csv << line;
    }
    std::cout << table.str() << std::flush;
    if (!opts.csv.empty()) {
        vit::AtomicFile file(opts.csv);
        file.stream() << csv.str();
        file.commit();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char summary[160];
    std::snprintf(summary, sizeof summary, "%zu images, %d patches removed/inserted per step, %.1f s", N, step,
                  seconds);
    info(summary);
    return kExitOk;
}

}  // namespace vit_cli
