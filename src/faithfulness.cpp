// Deletion and insertion curves over batches of images: the maps of a batch are built once, then for
// each map the deleted and inserted images of every curve point go through the model together.
#include "vit/faithfulness.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "vit/error.hpp"
#include "vit/explain.hpp"
#include "vit/logits.hpp"

namespace vit {
namespace {

// Where a curve has its points: the patches per step and the fraction removed at each point.
struct CurvePoints {
    int step = 0;
    std::vector<double> fraction;  // steps + 1 values from 0 to 1
    int steps() const { return static_cast<int>(fraction.size()) - 1; }
};

CurvePoints curve_points(int P) {
    CurvePoints c;
    c.step = std::max(1, P / 16);
    const int steps = (P + c.step - 1) / c.step;
    for (int s = 0; s <= steps; ++s) c.fraction.push_back(double(std::min(s * c.step, P)) / P);
    return c;
}

// The area under the points (f_s, p_s) by the trapezoid rule.
double trapezoid(const std::vector<double>& f, const std::vector<double>& p) {
    double area = 0;
    for (size_t s = 1; s < f.size(); ++s) area += (f[s] - f[s - 1]) * (p[s] + p[s - 1]) / 2;
    return area;
}

// Share of a map's positive mass on the patches whose centres lie in the middle half of the rows and
// columns; 0 for a map with no positive mass.
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

// exp(-(dx² + dy²) / 2) with dx, dy the patch centre's offset from the grid's centre in quarters of the
// grid's width and height.
std::vector<float> centre_prior(int gh, int gw) {
    std::vector<float> centre(size_t(gh) * gw);
    for (int r = 0; r < gh; ++r)
        for (int c = 0; c < gw; ++c) {
            const double dy = (r + 0.5 - gh / 2.0) / (gh / 4.0), dx = (c + 0.5 - gw / 2.0) / (gw / 4.0);
            centre[size_t(r * gw + c)] = static_cast<float>(std::exp(-(dx * dx + dy * dy) / 2));
        }
    return centre;
}

// A subset of `limit` images spread evenly over the set (all when limit is 0): folder datasets come
// sorted by class, so the first images would cover only the first classes.
std::vector<size_t> spread(size_t total, size_t limit) {
    const size_t n = limit > 0 ? std::min(limit, total) : total;
    std::vector<size_t> pick(n);
    for (size_t i = 0; i < n; ++i) pick[i] = i * total / n;
    return pick;
}

// The model and what every batch needs of it.
class Scorer {
public:
    Scorer(const Model& model, int batch)
        : model_(model), c_(model.config()), runner_(model, batch, RunOptions{false, 0}),
          points_(curve_points(c_.num_patches())), prefix_(prefix_tokens(c_)),
          centre_(centre_prior(c_.grid_h(), c_.grid_w())) {
        // The all-zero image ends every deletion curve and starts every insertion curve.
        const std::vector<float> zeros(image_floats(), 0.0f);
        probabilities(zeros.data(), 1, blank_);
    }

    size_t image_floats() const { return size_t(c_.in_chans) * c_.img_h * c_.img_w; }
    const CurvePoints& points() const { return points_; }

    // Adds the figures of the n images x (n, C, H, W), whose indices in the whole set are `index`
    // (they seed the random map), to scores.
    void add_batch(const float* x, int n, const std::vector<size_t>& index, uint64_t seed,
                   std::vector<MapScore>& scores) {
        const int K = c_.num_classes;
        std::vector<float> probs;
        probabilities(x, n, probs);
        std::vector<int> pred(static_cast<size_t>(n));
        std::vector<double> p0(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            pred[size_t(i)] = argmax(&probs[size_t(i) * K], K);
            p0[size_t(i)] = probs[size_t(i) * K + pred[size_t(i)]];
        }
        const std::vector<Tensor> maps = batch_maps(x, n, pred, index, seed);
        const size_t P = size_t(c_.num_patches());
        for (size_t m = 0; m < maps.size(); ++m) {
            for (int i = 0; i < n; ++i) scores[m].central += central_share(maps[m].ptr() + i * P, c_.grid_h(), c_.grid_w());
            add_curve_areas(x, n, maps[m].ptr(), pred, p0, scores[m]);
        }
    }

private:
    void probabilities(const float* x, int n, std::vector<float>& probs) {
        probs.resize(size_t(n) * c_.num_classes);
        softmax_rows(runner_.forward(x, n), n, c_.num_classes, probs.data());
    }

    // The five maps of the report, each (n, P), in its order.
    std::vector<Tensor> batch_maps(const float* x, int n, const std::vector<int>& pred,
                                   const std::vector<size_t>& index, uint64_t seed) const {
        const int P = c_.num_patches();
        std::vector<Tensor> maps(2, Tensor({n, P}));
        for (int i = 0; i < n; ++i) {
            std::mt19937_64 rng(seed * 1000003 + index[size_t(i)]);  // per image, whatever the batch
            std::uniform_real_distribution<float> u(0.0f, 1.0f);
            for (int j = 0; j < P; ++j) maps[0].data[size_t(i * P + j)] = u(rng);
            std::copy(centre_.begin(), centre_.end(), maps[1].data.begin() + i * P);
        }
        const Tensor xt({n, c_.in_chans, c_.img_h, c_.img_w}, std::vector<float>(x, x + size_t(n) * image_floats()));
        const AttentionCapture cap = capture_attention(model_, xt, pred, n, true);
        RolloutOptions mean0, max9, grad9;
        max9.fusion = HeadFusion::Max;
        max9.discard_ratio = grad9.discard_ratio = 0.9f;
        maps.push_back(attention_rollout(cap.attn, prefix_, mean0));
        maps.push_back(attention_rollout(cap.attn, prefix_, max9));
        maps.push_back(gradient_rollout(cap.attn, cap.grad, prefix_, grad9));
        return maps;
    }

    // Adds the deletion and insertion areas of the n images under map (n, P) to score: p(pred) at each
    // curve point, the intact and blank images' probabilities standing for the full and empty ends.
    void add_curve_areas(const float* x, int n, const float* map, const std::vector<int>& pred,
                         const std::vector<double>& p0, MapScore& score) {
        const int P = c_.num_patches(), K = c_.num_classes, gw = c_.grid_w(), ps = c_.patch_size;
        const size_t floats = image_floats();
        std::vector<std::vector<int>> ranks(static_cast<size_t>(n), std::vector<int>(static_cast<size_t>(P)));
        for (int i = 0; i < n; ++i) {
            const float* v = map + size_t(i) * P;
            std::vector<int>& order = ranks[size_t(i)];
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
        }
        std::vector<float> del(x, x + size_t(n) * floats), ins(size_t(n) * floats, 0.0f), probs;
        std::vector<std::vector<double>> dcurve(static_cast<size_t>(n)), icurve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            dcurve[size_t(i)] = {p0[size_t(i)]};
            icurve[size_t(i)] = {blank_[size_t(pred[size_t(i)])]};
        }
        const int step = points_.step, steps = points_.steps();
        for (int s = 1; s < steps; ++s) {
            for (int i = 0; i < n; ++i)
                for (int r = (s - 1) * step; r < s * step; ++r) {
                    const int patch = ranks[size_t(i)][size_t(r)], py = patch / gw * ps, px = patch % gw * ps;
                    for (int c = 0; c < c_.in_chans; ++c)
                        for (int y = py; y < py + ps; ++y) {
                            const size_t off = size_t(i) * floats + (size_t(c) * c_.img_h + y) * c_.img_w + px;
                            std::fill_n(&del[off], ps, 0.0f);
                            std::copy_n(&x[off], ps, &ins[off]);
                        }
                }
            probabilities(del.data(), n, probs);
            for (int i = 0; i < n; ++i) dcurve[size_t(i)].push_back(probs[size_t(i) * K + pred[size_t(i)]]);
            probabilities(ins.data(), n, probs);
            for (int i = 0; i < n; ++i) icurve[size_t(i)].push_back(probs[size_t(i) * K + pred[size_t(i)]]);
        }
        // Everything removed is the blank image, everything inserted the intact one.
        for (int i = 0; i < n; ++i) {
            dcurve[size_t(i)].push_back(blank_[size_t(pred[size_t(i)])]);
            icurve[size_t(i)].push_back(p0[size_t(i)]);
            score.deletion += trapezoid(points_.fraction, dcurve[size_t(i)]);
            score.insertion += trapezoid(points_.fraction, icurve[size_t(i)]);
        }
    }

    const Model& model_;
    const ViTConfig& c_;
    Runner runner_;
    CurvePoints points_;
    PrefixTokens prefix_;
    std::vector<float> centre_;
    std::vector<float> blank_;  // class probabilities of the all-zero image
};

}  // namespace

FaithfulnessReport evaluate_faithfulness(const Model& model, const float* images, size_t count,
                                         const FaithfulnessOptions& opts) {
    if (model.config().num_classes <= 0)
        throw ConfigError("faithfulness needs a model with a classifier, this one has num_classes 0");
    if (count == 0) throw ConfigError("faithfulness: no images to evaluate");
    if (opts.batch < 1) throw ConfigError("faithfulness: batch must be >= 1, got " + std::to_string(opts.batch));
    const std::vector<size_t> pick = spread(count, opts.limit);
    const size_t N = pick.size();
    const int B = static_cast<int>(std::min<size_t>(size_t(opts.batch), N));
    Scorer scorer(model, B);

    FaithfulnessReport report;
    report.images = N;
    report.step = scorer.points().step;
    report.maps = {{"random (seed " + std::to_string(opts.seed) + ")"},
                   {"centre prior"},
                   {"rollout mean d0"},
                   {"rollout max d0.9"},
                   {"gradient rollout d0.9"}};
    const size_t floats = scorer.image_floats();
    std::vector<float> x;
    for (size_t s0 = 0; s0 < N; s0 += size_t(B)) {
        const int n = static_cast<int>(std::min<size_t>(size_t(B), N - s0));
        const std::vector<size_t> index(pick.begin() + long(s0), pick.begin() + long(s0) + n);
        x.resize(size_t(n) * floats);
        for (int i = 0; i < n; ++i) std::memcpy(&x[size_t(i) * floats], images + index[size_t(i)] * floats, floats * 4);
        scorer.add_batch(x.data(), n, index, opts.seed, report.maps);
        if (opts.progress) opts.progress(s0 + size_t(n), N);
    }
    for (MapScore& m : report.maps) {
        m.deletion /= double(N);
        m.insertion /= double(N);
        m.central /= double(N);
    }
    return report;
}

}  // namespace vit
