// Deletion and insertion curves over batches of images: the maps of a batch are built once, then for
// each map the deleted and inserted images of every curve point go through the model together.
#include "vit/explain/faithfulness.hpp"

#include <algorithm>
#include <utility>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "vit/util/error.hpp"
#include "vit/explain/attention_maps.hpp"
#include "vit/util/logits.hpp"

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

// Sums of one figure over the images, for its mean and the standard error of the mean.
struct Moments {
    double sum = 0, sum_sq = 0;
    void add(double v) {
        sum += v;
        sum_sq += v * v;
    }
    double mean(size_t n) const { return sum / double(n); }
    // Sample standard deviation (n - 1) over sqrt(n); 0 for a single image.
    double standard_error(size_t n) const {
        if (n < 2) return 0.0;
        const double m = mean(n), var = std::max(0.0, (sum_sq - double(n) * m * m) / double(n - 1));
        return std::sqrt(var / double(n));
    }
};

struct MapTotals {
    Moments deletion, insertion;
    double central = 0;
};

std::vector<SaliencySpec> saliency_specs(const std::vector<ScoredMap>& maps) {
    std::vector<SaliencySpec> specs;
    for (const ScoredMap& m : maps)
        if (m.kind == ScoredMap::Kind::Saliency) specs.push_back(m.saliency);
    return specs;
}

// The model and what every batch needs of it.
class Scorer {
public:
    Scorer(const Model& model, int batch, const FaithfulnessOptions& opts, const std::vector<ScoredMap>& maps)
        : c_(model.config()), runner_(model, batch, RunOptions{}), opts_(opts), maps_(maps),
          saliency_(model, batch, saliency_specs(maps), opts.baseline), points_(curve_points(c_.num_patches())),
          centre_(centre_prior(c_.grid_h(), c_.grid_w())), blank_(size_t(batch) * image_floats()) {}

    size_t image_floats() const { return size_t(c_.in_chans) * c_.img_h * c_.img_w; }
    const CurvePoints& points() const { return points_; }

    // Adds the figures of the n images x (n, C, H, W), whose indices in the whole set are `index`
    // (they seed the random map), to totals.
    void add_batch(const float* x, int n, const std::vector<size_t>& index, std::vector<MapTotals>& totals) {
        const int K = c_.num_classes;
        std::vector<float> probs;
        probabilities(x, n, probs);
        std::vector<int> pred(static_cast<size_t>(n));
        std::vector<double> p0(static_cast<size_t>(n)), pb(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            pred[size_t(i)] = argmax(&probs[size_t(i) * K], K);
            p0[size_t(i)] = probs[size_t(i) * K + pred[size_t(i)]];
        }
        // The baseline images end every deletion curve and start every insertion curve.
        baseline_images(c_, opts_.baseline, x, n, blank_.data());
        probabilities(blank_.data(), n, probs);
        for (int i = 0; i < n; ++i) pb[size_t(i)] = probs[size_t(i) * K + pred[size_t(i)]];

        const std::vector<Tensor> maps = batch_maps(x, n, pred, index);
        const size_t P = size_t(c_.num_patches());
        for (size_t m = 0; m < maps.size(); ++m) {
            for (int i = 0; i < n; ++i)
                totals[m].central += central_share(maps[m].ptr() + i * P, c_.grid_h(), c_.grid_w());
            add_curve_areas(x, n, maps[m].ptr(), pred, p0, pb, totals[m]);
        }
    }

private:
    void probabilities(const float* x, int n, std::vector<float>& probs) {
        probs.resize(size_t(n) * c_.num_classes);
        softmax_rows(runner_.forward(x, n), n, c_.num_classes, probs.data());
    }

    // The maps of the options, each (n, P), in their order.
    std::vector<Tensor> batch_maps(const float* x, int n, const std::vector<int>& pred, const std::vector<size_t>& index) {
        const int P = c_.num_patches();
        std::vector<Tensor> computed = saliency_.compute(x, n, pred);
        std::vector<Tensor> maps;
        size_t next = 0;
        for (const ScoredMap& m : maps_) {
            if (m.kind == ScoredMap::Kind::Saliency) {
                maps.push_back(std::move(computed[next++]));
                continue;
            }
            Tensor map({n, P});
            for (int i = 0; i < n; ++i) {
                if (m.kind == ScoredMap::Kind::CentrePrior) {
                    std::copy(centre_.begin(), centre_.end(), map.data.begin() + i * P);
                    continue;
                }
                std::mt19937_64 rng(opts_.seed * 1000003 + index[size_t(i)]);  // per image, whatever the batch
                std::uniform_real_distribution<float> u(0.0f, 1.0f);
                for (int j = 0; j < P; ++j) map.data[size_t(i * P + j)] = u(rng);
            }
            maps.push_back(std::move(map));
        }
        return maps;
    }

    // Adds the deletion and insertion areas of the n images under map (n, P) to totals: p(pred) at each
    // curve point, the intact and baseline images' probabilities standing for the full and empty ends.
    void add_curve_areas(const float* x, int n, const float* map, const std::vector<int>& pred,
                         const std::vector<double>& p0, const std::vector<double>& pb, MapTotals& totals) {
        const int P = c_.num_patches(), K = c_.num_classes;
        const size_t floats = image_floats();
        std::vector<std::vector<int>> ranks(static_cast<size_t>(n), std::vector<int>(static_cast<size_t>(P)));
        for (int i = 0; i < n; ++i) {
            const float* v = map + size_t(i) * P;
            std::vector<int>& order = ranks[size_t(i)];
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return v[a] > v[b]; });
        }
        std::vector<float> del(x, x + size_t(n) * floats), ins(blank_.begin(), blank_.begin() + long(size_t(n) * floats));
        std::vector<float> probs;
        std::vector<std::vector<double>> dcurve(static_cast<size_t>(n)), icurve(static_cast<size_t>(n));
        for (int i = 0; i < n; ++i) {
            dcurve[size_t(i)] = {p0[size_t(i)]};
            icurve[size_t(i)] = {pb[size_t(i)]};
        }
        const int step = points_.step, steps = points_.steps();
        for (int s = 1; s < steps; ++s) {
            for (int i = 0; i < n; ++i)
                for (int r = (s - 1) * step; r < s * step; ++r) {
                    const int patch = ranks[size_t(i)][size_t(r)];
                    const size_t at = size_t(i) * floats;
                    copy_patch(c_, patch, blank_.data() + at, del.data() + at);
                    copy_patch(c_, patch, x + at, ins.data() + at);
                }
            probabilities(del.data(), n, probs);
            for (int i = 0; i < n; ++i) dcurve[size_t(i)].push_back(probs[size_t(i) * K + pred[size_t(i)]]);
            probabilities(ins.data(), n, probs);
            for (int i = 0; i < n; ++i) icurve[size_t(i)].push_back(probs[size_t(i) * K + pred[size_t(i)]]);
        }
        // Everything removed is the baseline image, everything inserted the intact one.
        for (int i = 0; i < n; ++i) {
            dcurve[size_t(i)].push_back(pb[size_t(i)]);
            icurve[size_t(i)].push_back(p0[size_t(i)]);
            totals.deletion.add(trapezoid(points_.fraction, dcurve[size_t(i)]));
            totals.insertion.add(trapezoid(points_.fraction, icurve[size_t(i)]));
        }
    }

    const ViTConfig& c_;
    Runner runner_;
    const FaithfulnessOptions& opts_;
    const std::vector<ScoredMap>& maps_;
    SaliencyMaps saliency_;
    CurvePoints points_;
    std::vector<float> centre_;
    std::vector<float> blank_;  // the batch's baseline images
};

ScoredMap saliency(SaliencyMethod method, HeadFusion fusion = HeadFusion::Mean, float discard = 0.0f) {
    ScoredMap m;
    m.saliency.method = method;
    m.saliency.rollout.fusion = fusion;
    m.saliency.rollout.discard_ratio = discard;
    return m;
}

}  // namespace

std::vector<ScoredMap> default_scored_maps() {
    return {ScoredMap{ScoredMap::Kind::Random, {}}, ScoredMap{ScoredMap::Kind::CentrePrior, {}},
            saliency(SaliencyMethod::Rollout), saliency(SaliencyMethod::Rollout, HeadFusion::Max, 0.9f),
            saliency(SaliencyMethod::GradRollout, HeadFusion::Mean, 0.9f)};
}

namespace {
// Every scored map with its short name, defaults first: the one table behind all_scored_maps(),
// scored_map_keys() and parse_scored_map().
std::vector<std::pair<std::string, ScoredMap>> named_scored_maps() {
    const std::vector<ScoredMap> defaults = default_scored_maps();
    return {{"random", defaults[0]},
            {"centre", defaults[1]},
            {"rollout", defaults[2]},
            {"rollout-max", defaults[3]},
            {"grad-rollout", defaults[4]},
            {"chefer2021", saliency(SaliencyMethod::Chefer2021)},
            {"chefer2021-lrp", saliency(SaliencyMethod::Chefer2021Lrp)},
            {"attnlrp", saliency(SaliencyMethod::AttnLrp)},
            {"last-attention", saliency(SaliencyMethod::LastAttention)},
            {"occlusion", saliency(SaliencyMethod::Occlusion)},
            {"grad-rollout-x-occlusion", saliency(SaliencyMethod::GradRolloutOcclusion, HeadFusion::Mean, 0.9f)},
            {"rise", saliency(SaliencyMethod::Rise)}};
}
}  // namespace

std::vector<ScoredMap> all_scored_maps() {
    std::vector<ScoredMap> maps;
    for (auto& [key, map] : named_scored_maps()) maps.push_back(map);
    return maps;
}

std::vector<std::string> scored_map_keys() {
    std::vector<std::string> keys;
    for (auto& [key, map] : named_scored_maps()) keys.push_back(key);
    return keys;
}

ScoredMap parse_scored_map(const std::string& key) {
    std::string all;
    for (auto& [k, map] : named_scored_maps()) {
        if (k == key) return map;
        all += std::string(all.empty() ? "" : ", ") + k;
    }
    throw ConfigError("unknown scored map '" + key + "' (expected one of " + all + ")");
}

std::string scored_map_name(const ScoredMap& m, uint64_t seed) {
    switch (m.kind) {
        case ScoredMap::Kind::Random: return "random (seed " + std::to_string(seed) + ")";
        case ScoredMap::Kind::CentrePrior: return "centre prior";
        case ScoredMap::Kind::Saliency: return describe(m.saliency);
    }
    return "?";
}

FaithfulnessReport evaluate_faithfulness(const Model& model, const float* images, size_t count,
                                         const FaithfulnessOptions& opts) {
    if (model.config().num_classes <= 0)
        throw ConfigError("faithfulness needs a model with a classifier, this one has num_classes 0");
    if (count == 0) throw ConfigError("faithfulness: no images to evaluate");
    if (opts.batch < 1) throw ConfigError("faithfulness: batch must be >= 1, got " + std::to_string(opts.batch));
    const std::vector<ScoredMap> maps = opts.maps.empty() ? default_scored_maps() : opts.maps;
    const std::vector<size_t> pick = spread(count, opts.limit);
    const size_t N = pick.size();
    const int B = static_cast<int>(std::min<size_t>(size_t(opts.batch), N));
    Scorer scorer(model, B, opts, maps);

    std::vector<MapTotals> totals(maps.size());
    const size_t floats = scorer.image_floats();
    std::vector<float> x;
    for (size_t s0 = 0; s0 < N; s0 += size_t(B)) {
        const int n = static_cast<int>(std::min<size_t>(size_t(B), N - s0));
        const std::vector<size_t> index(pick.begin() + long(s0), pick.begin() + long(s0) + n);
        x.resize(size_t(n) * floats);
        for (int i = 0; i < n; ++i) std::memcpy(&x[size_t(i) * floats], images + index[size_t(i)] * floats, floats * 4);
        scorer.add_batch(x.data(), n, index, totals);
        if (opts.progress) opts.progress(s0 + size_t(n), N);
    }
    FaithfulnessReport report;
    report.images = N;
    report.step = scorer.points().step;
    for (size_t m = 0; m < maps.size(); ++m) {
        MapScore score;
        score.name = scored_map_name(maps[m], opts.seed);
        score.deletion = totals[m].deletion.mean(N);
        score.insertion = totals[m].insertion.mean(N);
        score.deletion_se = totals[m].deletion.standard_error(N);
        score.insertion_se = totals[m].insertion.standard_error(N);
        score.central = totals[m].central / double(N);
        report.maps.push_back(std::move(score));
    }
    return report;
}

}  // namespace vit
