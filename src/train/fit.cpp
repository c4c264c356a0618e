#include "vit/train/fit.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "vit/model/checkpoint.hpp"
#include "vit/util/error.hpp"
#include "vit/train/evaluate.hpp"
#include "vit/train/model_ema.hpp"
#include "vit/io/checkpoint.hpp"

namespace vit {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Where the run stands: everything besides the parameters and the AdamW moments needed to go on.
struct Progress {
    int epoch = 0;            // epoch in progress (0-based)
    size_t next_batch = 0;    // first batch of that epoch not yet trained
    int64_t global_step = 0;  // optimizer steps so far = schedule position
    double best_acc = -1;
    double loss_sum = 0;      // running sums of the epoch in progress
    int64_t correct = 0, seen = 0;
};

std::string progress_json(const Progress& p, const FitConfig& cfg, int64_t adam_steps) {
    json j{{"epoch", p.epoch},       {"next_batch", p.next_batch}, {"global_step", p.global_step},
           {"best_acc", p.best_acc}, {"loss_sum", p.loss_sum},     {"correct", p.correct},
           {"seen", p.seen},         {"batch", cfg.batch},         {"seed", cfg.seed},
           {"adam_steps", adam_steps}, {"model_ema", cfg.model_ema_decay},
           {"train_only_head", cfg.optim.trainable.head_only}, {"freeze_blocks", cfg.optim.trainable.frozen_blocks}};
    if (!cfg.recipe.empty()) j["recipe"] = {{"name", cfg.recipe}, {"settings", json::parse(cfg.recipe_settings)}};
    return j.dump();
}

Progress parse_progress(const std::string& text, const FitConfig& cfg, const std::string& path, int64_t& adam_steps) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw FormatError(path + ": training state is not valid JSON");
    Progress p;
    try {
        adam_steps = j.at("adam_steps").get<int64_t>();
        p.epoch = j.at("epoch").get<int>();
        p.next_batch = j.at("next_batch").get<size_t>();
        p.global_step = j.at("global_step").get<int64_t>();
        p.best_acc = j.at("best_acc").get<double>();
        p.loss_sum = j.at("loss_sum").get<double>();
        p.correct = j.at("correct").get<int64_t>();
        p.seen = j.at("seen").get<int64_t>();
        const int batch = j.at("batch").get<int>();
        const uint64_t seed = j.at("seed").get<uint64_t>();
        if (batch != cfg.batch || seed != cfg.seed)
            throw ConfigError(path + ": the run was started with batch " + std::to_string(batch) + " and seed " +
                              std::to_string(seed) + "; resume it with the same values (got batch " +
                              std::to_string(cfg.batch) + ", seed " + std::to_string(cfg.seed) + ")");
        // States written before the EMA existed have none: decay 0, i.e. off.
        const float ema = j.value("model_ema", 0.0f);
        if (ema != cfg.model_ema_decay)
            throw ConfigError(path + ": the run was started with model EMA decay " + std::to_string(ema) +
                              "; resume it with the same value (got " + std::to_string(cfg.model_ema_decay) + ")");
        // The optimizer holds moments for the trainable parameters only: the same ones must train on.
        const bool head_only = j.value("train_only_head", false);
        const int frozen = j.value("freeze_blocks", 0);
        if (head_only != cfg.optim.trainable.head_only || frozen != cfg.optim.trainable.frozen_blocks)
            throw ConfigError(path + ": the run was started training " +
                              (head_only ? std::string("the head only") : frozen ? "all but the first " + std::to_string(frozen) + " blocks" : "every parameter") +
                              "; resume it training the same parameters");
    } catch (const json::exception& e) {
        throw FormatError(path + ": training state is incomplete (" + e.what() + ")");
    }
    return p;
}

// The EMA weights travel in the training state (the tensors whose names start with "optimizer.",
// which load_checkpoint keeps apart from the model) beside the AdamW moments.
constexpr const char* kEmaPrefix = "optimizer.model_ema.";

void save_state(const fs::path& path, const Model& model, AdamW& adam, const ModelEma* ema, const Progress& p,
                const FitConfig& cfg) {
    Checkpoint ck = model.to_checkpoint();
    for (const auto& v : model.params().views()) {
        auto copy = [&](const float* at) { return Tensor(v.shape, std::vector<float>(at, at + v.numel)); };
        // Frozen parameters have no moments.
        if (const float* m = adam.exp_avg(v)) {
            ck.optimizer.emplace("optimizer.exp_avg." + v.name, copy(m));
            ck.optimizer.emplace("optimizer.exp_avg_sq." + v.name, copy(adam.exp_avg_sq(v)));
        }
        if (ema) ck.optimizer.emplace(kEmaPrefix + v.name, copy(ema->model().params().data() + v.offset));
    }
    ck.train_state = progress_json(p, cfg, adam.steps());
    save_checkpoint(path.string(), ck);
}

Progress load_state(const fs::path& path, Model& model, AdamW& adam, ModelEma* ema, const FitConfig& cfg) {
    if (!fs::exists(path))
        throw ConfigError("resume is set but there is no checkpoint to resume from at " + path.string());
    const Checkpoint ck = load_checkpoint(path.string());
    if (ck.train_state.empty())
        throw ConfigError(path.string() + " holds no training state (was it written by vit::fit?)");
    // The progress first: it refuses a resume with another batch, seed or EMA setting before any copy.
    int64_t adam_steps = 0;
    const Progress p = parse_progress(ck.train_state, cfg, path.string(), adam_steps);
    model.params().load(ck.weights, path.string());
    for (const auto& v : model.params().views()) {
        std::vector<std::pair<std::string, float*>> states;
        if (float* m = adam.exp_avg(v)) {
            states.emplace_back("optimizer.exp_avg.", m);
            states.emplace_back("optimizer.exp_avg_sq.", adam.exp_avg_sq(v));
        }
        if (ema) states.emplace_back(kEmaPrefix, ema->model().params().data() + v.offset);
        for (const auto& [prefix, at] : states) {
            const auto it = ck.optimizer.find(prefix + v.name);
            if (it == ck.optimizer.end() || it->second.shape != v.shape)
                throw ShapeError(path.string() + ": training state '" + prefix + v.name +
                                 "' is missing or has the wrong shape (expected " + shape_str(v.shape) + ")");
            std::copy(it->second.data.begin(), it->second.data.end(), at);
        }
    }
    adam.set_steps(adam_steps);
    return p;
}

// The EMA columns exist only in runs with an EMA (a resume cannot switch it on or off), the recipe
// column only in runs from a recipe.
void append_metrics(const fs::path& path, const EpochMetrics& m, bool with_ema, const std::string& recipe) {
    const bool fresh = !fs::exists(path);
    std::ofstream out(path, std::ios::app);
    if (fresh)
        out << "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds,images_per_s,data_wait_s,skipped_images"
            << (with_ema ? ",ema_test_loss,ema_test_acc" : "") << (recipe.empty() ? "" : ",recipe") << '\n';
    // An epoch without evaluation (FitConfig::eval_every) leaves its test cells empty.
    const auto test_cell = [&m](double v) {
        std::ostringstream cell;
        if (m.evaluated) cell << v;
        return cell.str();
    };
    out << m.epoch << ',' << m.train_loss << ',' << m.train_acc << ',' << test_cell(m.test_loss) << ','
        << test_cell(m.test_acc) << ',' << m.lr << ',' << m.seconds << ',' << m.images_per_s << ',' << m.data_wait_s
        << ',' << m.skipped_images;
    if (with_ema) out << ',' << test_cell(m.ema_test_loss) << ',' << test_cell(m.ema_test_acc);
    if (!recipe.empty()) out << ',' << recipe;
    out << '\n';
    if (!out) throw IoError("cannot append to " + path.string());
}

}  // namespace

void FitConfig::validate() const {
    auto check = [](bool ok, const char* field, const char* requirement, double value) {
        if (!ok) {
            std::ostringstream got;
            got << value;
            throw FieldError("FitConfig", field, requirement, got.str());
        }
    };
    check(epochs > 0, "epochs", "must be positive", epochs);
    check(batch > 0, "batch", "must be positive", batch);
    check(lr > 0, "lr", "must be positive", lr);
    check(optim.label_smoothing >= 0 && optim.label_smoothing < 1, "optim.label_smoothing", "must be in [0, 1)",
          optim.label_smoothing);
    check(model_ema_decay >= 0 && model_ema_decay < 1, "model_ema_decay", "must be in [0, 1)", model_ema_decay);
    check(workers >= 1, "workers", "must be at least 1", workers);
    check(eval_every >= 1, "eval_every", "must be at least 1", eval_every);
    check(eval_batch >= 0, "eval_batch", "must be positive, or 0 for the training batch", eval_batch);
    check(aug_repeats >= 1 && aug_repeats <= 64, "aug_repeats", "must be in [1, 64]", aug_repeats);
}

FitOutcome fit(Model& model, const DataSplit& data, const FitConfig& cfg, const FitCallbacks& cb) {
    SingleProcess one;
    return fit(model, data, cfg, cb, one);
}

FitOutcome fit(Model& model, const DataSplit& data, const FitConfig& cfg, const FitCallbacks& cb, Communicator& comm) {
    cfg.validate();
    if (cfg.recipe.find_first_of(",\"\r\n") != std::string::npos)
        throw ConfigError("FitConfig::recipe '" + cfg.recipe + "' cannot be a CSV cell: no commas, quotes or line breaks");
    if (!cfg.recipe.empty()) {
        const json settings = json::parse(cfg.recipe_settings, nullptr, false);
        if (settings.is_discarded() || !settings.is_object())
            throw ConfigError("FitConfig::recipe_settings must be a JSON object, got '" + cfg.recipe_settings + "'");
    }
    if (data.train.size() < size_t(cfg.batch))
        throw ConfigError("the training set has " + std::to_string(data.train.size()) + " images, fewer than one batch of " +
                          std::to_string(cfg.batch));
    // Rank 0 alone touches the run folder: it reads the state to resume from and writes checkpoints and
    // metrics; the others receive the state from it, so no folder needs to be shared between hosts.
    const bool lead = comm.rank() == 0;
    if (cfg.batch < comm.size())
        throw ConfigError("a batch of " + std::to_string(cfg.batch) + " images cannot be split across " +
                          std::to_string(comm.size()) + " processes (each needs at least one image)");
    const BatchSlice slice = batch_slice(cfg.batch, comm.rank(), comm.size());
    const fs::path dir(cfg.run_dir);
    std::error_code ec;
    if (lead) fs::create_directories(dir, ec);
    if (lead && (ec || !fs::is_directory(dir)))
        throw IoError("cannot create the run folder " + dir.string() + ": " + ec.message());
    const fs::path last = dir / "last.safetensors", best = dir / "best.safetensors", metrics = dir / "metrics.csv",
                   ema_file = dir / "ema.safetensors";

    const PreprocessConfig& pre = model.preprocess();
    // The reference recipe drops the incomplete last batch.
    LoaderOptions lo;
    lo.shuffle = true;
    lo.drop_last = true;
    lo.seed = cfg.seed;
    lo.workers = cfg.workers;
    lo.repeats = cfg.aug_repeats;
    lo.rank = comm.rank();
    lo.ranks = comm.size();
    lo.warn = cb.on_warning;
    // Mixup's targets carry the label smoothing (timm's Mixup(label_smoothing=...)).
    Augment aug = cfg.augment;
    aug.mixup.label_smoothing = cfg.optim.label_smoothing;
    BatchLoader loader(data.train, cfg.batch, aug, pre.mean, pre.std, lo);
    const size_t steps = loader.batches_per_epoch();
    const int eval_batch = cfg.eval_batch > 0 ? cfg.eval_batch : cfg.batch;
    const int warm = cfg.warmup_epochs >= 0 ? cfg.warmup_epochs : std::max(1, cfg.epochs / 10);
    const Schedule sched{int64_t(warm) * int64_t(steps), int64_t(cfg.epochs) * int64_t(steps), cfg.lr, cfg.min_lr};

    Trainer trainer(model, slice.count, cfg.optim, DataParallel{&comm, slice});
    std::unique_ptr<ModelEma> ema;  // rank 0's: it evaluates and saves it
    if (lead && cfg.model_ema_decay > 0) ema = std::make_unique<ModelEma>(model, cfg.model_ema_decay);
    Progress p;
    if (lead && cfg.resume) p = load_state(last, model, trainer.optimizer(), ema.get(), cfg);
    if (comm.size() > 1) {
        // Every process starts from rank 0's weights, moments and place in the run (fresh runs agree
        // already, being seeded alike; a resumed one has them from the checkpoint).
        AdamW& adam = trainer.optimizer();
        int64_t adam_steps = adam.steps();
        comm.broadcast(model.params().data(), model.params().size() * sizeof(float));
        comm.broadcast(adam.m().data(), adam.m().size() * sizeof(float));
        comm.broadcast(adam.v().data(), adam.v().size() * sizeof(float));
        comm.broadcast(&adam_steps, sizeof adam_steps);
        comm.broadcast(&p, sizeof p);
        adam.set_steps(adam_steps);
    }
    // Whether any process was asked to stop: all of them must leave at the same step.
    const auto stop_asked = [&] {
        double stop = cb.stop_requested && cb.stop_requested() ? 1.0 : 0.0;
        comm.allreduce_sum(&stop, 1);
        return stop > 0;
    };

    using clock = std::chrono::steady_clock;
    for (; p.epoch < cfg.epochs; ++p.epoch, p.next_batch = 0, p.loss_sum = 0, p.correct = 0, p.seen = 0) {
        const auto t0 = clock::now();
        const double wait0 = loader.wait_seconds(), busy0 = loader.busy_seconds();
        const size_t skipped0 = loader.skipped_images();
        double sync_wait = 0, reduce = 0;
        const size_t first = p.next_batch;
        loader.start_epoch(p.epoch, first);
        Batch b;
        float lr = 0;
        while (loader.next(b)) {
            lr = sched.lr(p.global_step);
            // Dropout and drop-path masks are a function of (seed, step), like the data: resume repeats them.
            trainer.set_noise_seed(cfg.seed * 0x9E3779B97F4A7C15ull + uint64_t(p.global_step));
            const StepResult r = trainer.step(b.x.data(), b.y.data(), b.targets.empty() ? nullptr : b.targets.data(), b.n, lr);
            if (ema) ema->update(model.params());
            ++p.global_step;
            ++p.next_batch;
            // The loss and the count are the global batch's (Trainer::step sums them over the processes).
            p.loss_sum += double(r.loss) * cfg.batch;
            p.correct += r.correct;
            p.seen += cfg.batch;
            sync_wait += r.wait_s;
            reduce += r.reduce_s;
            if (lead && cb.on_step) {
                const double dt = std::chrono::duration<double>(clock::now() - t0).count();
                const double ips = double((p.next_batch - first) * size_t(cfg.batch)) / std::max(dt, 1e-9);
                const double left = double((cfg.epochs - p.epoch) * steps - p.next_batch) * cfg.batch;
                cb.on_step({p.epoch + 1, cfg.epochs, p.next_batch, steps, r.loss, lr, ips, left / std::max(ips, 1e-9)});
            }
            if (stop_asked() && p.next_batch < steps) {
                if (!lead) return FitOutcome::Stopped;
                save_state(last, model, trainer.optimizer(), ema.get(), p, cfg);
                if (cb.on_checkpoint) cb.on_checkpoint(last.string());
                return FitOutcome::Stopped;
            }
        }
        // Every process skips the unreadable files of its own slices.
        double skipped = double(loader.skipped_images() - skipped0);
        comm.allreduce_sum(&skipped, 1);
        // The processes other than rank 0 neither evaluate nor write: they wait for it in the epoch's
        // stop vote below, which rank 0 casts after its evaluation and checkpoint.
        if (!lead) {
            if (stop_asked() && p.epoch + 1 < cfg.epochs) return FitOutcome::Stopped;
            continue;
        }
        EpochMetrics m;
        m.epoch = p.epoch + 1;
        m.seconds = std::chrono::duration<double>(clock::now() - t0).count();
        m.images_per_s = double((steps - first) * size_t(cfg.batch)) / std::max(m.seconds, 1e-9);
        m.data_wait_s = loader.wait_seconds() - wait0;
        m.data_busy_s = loader.busy_seconds() - busy0;
        m.skipped_images = static_cast<size_t>(skipped);
        m.sync_wait_s = sync_wait;
        m.allreduce_s = reduce;
        m.train_loss = p.seen ? p.loss_sum / double(p.seen) : 0;
        m.train_acc = p.seen ? double(p.correct) / double(p.seen) : 0;
        m.lr = lr;
        m.evaluated = data.test.size() > 0 && (m.epoch % cfg.eval_every == 0 || m.epoch == cfg.epochs);
        if (m.evaluated) {
            const EvalResult e = evaluate(model, data.test, eval_batch);
            m.test_acc = e.accuracy();
            m.test_loss = e.loss;
            if (ema) {
                const EvalResult ee = evaluate(ema->model(), data.test, eval_batch);
                m.ema_test_acc = ee.accuracy();
                m.ema_test_loss = ee.loss;
            }
        }
        Progress done = p;
        ++done.epoch;
        done.next_batch = 0;
        done.loss_sum = 0;
        done.correct = done.seen = 0;
        const bool improved = m.evaluated && m.test_acc > p.best_acc;
        if (improved) done.best_acc = p.best_acc = m.test_acc;
        if (improved) save_checkpoint(best.string(), model.to_checkpoint());
        if (ema) save_checkpoint(ema_file.string(), ema->model().to_checkpoint());
        save_state(last, model, trainer.optimizer(), ema.get(), done, cfg);
        if (cb.on_checkpoint) cb.on_checkpoint(last.string());
        append_metrics(metrics, m, ema != nullptr, cfg.recipe);
        if (cb.on_epoch) cb.on_epoch(m);
        if (stop_asked() && p.epoch + 1 < cfg.epochs) return FitOutcome::Stopped;
    }
    return FitOutcome::Completed;
}

}  // namespace vit
