// `vit train`: trains a ViT on an image folder, CIFAR-10/100 binaries or (Fashion-)MNIST IDX files with
// the reference recipe (AdamW, warmup + cosine, label smoothing, random crop + flip), writing
// checkpoints and metrics to a run folder. Ctrl-C (or SIGTERM) writes a checkpoint and stops cleanly;
// --resume continues exactly where it stopped.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "common.hpp"
#include "image_file.hpp"
#include "model_spec.hpp"
#include "processes.hpp"
#include "progress.hpp"
#include "recipe.hpp"
#include "training_curves.hpp"
#include "vit/image/preprocess.hpp"

namespace vit_cli {
namespace {

const char* const kUsage =
    "usage: vit train --data PATH (--model-config NAME|FILE | --init-from CHECKPOINT) --output RUN_DIR [options]\n\n"
    "Trains a ViT. PATH: an image folder (train/ and test/ with one sub-folder per class, or class\n"
    "folders with --val-split), CIFAR-10/100 binary files, or (Fashion-)MNIST IDX files. NAME is a file\n"
    "in models/configs (cifar-t, cifar-s, fmnist-t, vit_tiny_patch16_224, ...). RUN_DIR receives\n"
    "last.safetensors (every epoch), best.safetensors (best test accuracy), metrics.csv and curves.png\n"
    "(loss and accuracy per epoch, redrawn after every epoch).\n"
    "--recipe NAME|FILE sets flags from models/recipes/NAME.json (e.g. cifar-strong); flags given on\n"
    "the command line override the recipe's.\n\n";

std::atomic<bool> g_stop{false};

extern "C" void on_signal(int) {
    g_stop = true;
    // A second Ctrl-C ends the process at once.
    std::signal(SIGINT, SIG_DFL);
    std::signal(SIGTERM, SIG_DFL);
}

// A flag's MIN,MAX value.
std::pair<double, double> number_pair(const po::variables_map& vm, const std::string& flag) {
    const std::string text = vm[flag].as<std::string>();
    const std::vector<std::string> parts = split_list(text);
    try {
        size_t used_min = 0, used_max = 0;
        if (parts.size() == 2) {
            const std::pair<double, double> v{std::stod(parts[0], &used_min), std::stod(parts[1], &used_max)};
            if (used_min == parts[0].size() && used_max == parts[1].size()) return v;
        }
    } catch (const std::exception&) {
    }
    throw UsageError("--" + flag + " expects two comma-separated numbers MIN,MAX, got '" + text + "'");
}

std::vector<float> float_list(const std::string& text, const std::string& flag, int n) {
    std::vector<float> v;
    for (const std::string& s : split_list(text)) {
        try {
            size_t used = 0;
            v.push_back(std::stof(s, &used));
            if (used != s.size()) throw std::invalid_argument(s);
        } catch (const std::exception&) {
            throw UsageError(flag + " expects comma-separated numbers, got '" + text + "'");
        }
    }
    if (static_cast<int>(v.size()) != n)
        throw UsageError(flag + " needs " + std::to_string(n) + " values (one per channel), got " + std::to_string(v.size()));
    return v;
}

// A fresh head for fine-tuning on another label set: timm's init (trunc normal 0.02, zero bias).
}  // namespace

int run_train(const std::vector<std::string>& args) {
    po::options_description options;
    add_model_config_flag(options);
    // clang-format off
    options.add_options()
        ("data,d", po::value<std::string>(), "dataset folder (required)")
        ("init-from", po::value<std::string>(), "start from this checkpoint (timm/HF folder, .safetensors, or a Hub id in the local Hugging Face cache); the head is replaced when the class count differs")
        ("output,o", po::value<std::string>(), "run folder (required)")
        ("recipe", po::value<std::string>(), "training recipe: a name in models/recipes or a JSON file of flags and values; flags on the command line override it")
        ("resume", po::bool_switch(), "continue the run in the output folder from last.safetensors")
        ("epochs", po::value<int>()->default_value(30), "epochs")
        ("batch,b", po::value<int>()->default_value(128), "batch size")
        ("lr", po::value<float>()->default_value(1e-3f), "peak learning rate")
        ("lr-base", po::value<float>(), "peak learning rate per --lr-base-size images instead of --lr, scaled with the batch as timm does: lr = lr_base * (batch / size), or its square root with --lr-base-scale sqrt")
        ("lr-base-size", po::value<int>()->default_value(256), "the batch size --lr-base is given for (timm's --lr-base-size)")
        ("lr-base-scale", po::value<std::string>()->default_value("sqrt"), "how --lr-base scales with the batch: sqrt (timm's choice for AdamW) or linear")
        ("layer-decay", po::value<float>()->default_value(1.0f), "layer-wise learning-rate decay (timm's --layer-decay, e.g. 0.65 or 0.75): block i of L learns at lr * D^(L+1-i), the embedding at lr * D^(L+2); 1: off")
        ("train-only", po::value<std::string>(), "head: train the classifier head alone (a linear probe); the rest gets no gradient and no optimizer state")
        ("freeze-blocks", po::value<int>()->default_value(0), "freeze the embedding and the first K blocks: no gradient and no optimizer state for them")
        ("min-lr", po::value<float>()->default_value(0.0f), "learning rate at the end of the cosine")
        ("warmup", po::value<int>()->default_value(-1), "warmup epochs (-1: max(1, epochs/10))")
        ("weight-decay", po::value<float>()->default_value(0.05f), "AdamW weight decay")
        ("exclude-decay", po::bool_switch(), "no weight decay on biases, norms, cls_token, pos_embed (as timm)")
        ("label-smoothing", po::value<float>()->default_value(0.1f), "label smoothing")
        ("clip-grad", po::value<float>()->default_value(0.0f), "clip the global gradient norm (0: off)")
        ("drop-path", po::value<float>()->default_value(0.0f), "stochastic depth rate of the last block (timm's drop_path_rate; 0: off)")
        ("dropout", po::value<float>()->default_value(0.0f), "dropout after the position embedding, the attention projection and both MLP layers (the ViT paper's; timm's pos_drop_rate and proj_drop_rate; 0: off)")
        ("attn-drop", po::value<float>()->default_value(0.0f), "dropout on the attention probabilities (timm's attn_drop_rate; 0: off)")
        ("head-drop", po::value<float>()->default_value(0.0f), "dropout on the pooled features before the head (timm's drop_rate; 0: off)")
        ("no-crop", po::bool_switch(), "no random crop")
        ("padding", po::value<int>()->default_value(-1), "random-crop padding (-1: 2 below 32 pixels, else image size / 8, as the reference recipe)")
        ("no-flip", po::bool_switch(), "no horizontal flip (--hflip 0)")
        ("hflip", po::value<float>(), "horizontal flip probability (timm's --hflip; default 0.5)")
        ("scale", po::value<std::string>(), "MIN,MAX: train on photos as timm does: a random resized crop of the original image with this area fraction (timm's --scale, e.g. 0.08,1) in place of the pad-and-crop, images read from disk every epoch, evaluation with the model's own resize and centre crop")
        ("ratio", po::value<std::string>()->default_value("0.75,1.3333333"), "with --scale: the crop's aspect-ratio range (timm's --ratio)")
        ("train-interpolation", po::value<std::string>()->default_value("random"), "with --scale: the crop's resize filter: random (bilinear or bicubic per image, timm's default), bilinear or bicubic")
        ("color-jitter", po::value<float>()->default_value(0.0f), "brightness, contrast and saturation jitter (timm's --color-jitter, e.g. 0.4; 0: off); timm leaves it off when --aa is on")
        ("classes", po::value<std::string>(), "image folders: train on these class folders only (comma-separated names, in both splits), labelled in sorted order")
        ("cache", po::value<std::string>()->default_value("auto"), "image folders: decoded (decode every image once and keep it in memory), none (read and decode from disk every epoch, memory independent of the folder's size) or auto (decoded when the images take at most a quarter of the available memory, and not with --scale, which needs the original images)")
        ("pad-fill", po::value<std::string>()->default_value("mean"), "what the crop padding shows: mean (the dataset mean, as the reference recipe) or black")
        ("aa", po::value<std::string>()->default_value("none"), "automatic augmentation on the 8-bit crop: rand-m9-mstd0.5-inc1 (timm's RandAugment string: m magnitude, n layers, p probability, mstd magnitude noise, mmax, inc), trivial (TrivialAugmentWide) or none")
        ("reprob", po::value<float>()->default_value(0.0f), "random erasing probability per image (timm's --reprob; 0: off)")
        ("remode", po::value<std::string>()->default_value("pixel"), "random erasing fill: pixel (normal noise per pixel), rand (per channel) or const (the mean)")
        ("mixup", po::value<float>()->default_value(0.0f), "mixup alpha (timm's --mixup; 0: off)")
        ("cutmix", po::value<float>()->default_value(0.0f), "cutmix alpha (timm's --cutmix; 0: off)")
        ("mixup-prob", po::value<float>()->default_value(1.0f), "probability of mixing a batch when --mixup or --cutmix is on")
        ("mixup-switch-prob", po::value<float>()->default_value(0.5f), "with both on: probability of cutmix rather than mixup for a batch")
        ("aug-repeats", po::value<int>()->default_value(1), "repeated augmentation: each image of an epoch's order taken this many times in a row, differently augmented, the epoch keeping its length (timm's --aug-repeats, e.g. 3; 1: off)")
        ("model-ema", po::value<float>()->default_value(0.0f), "keep an exponential moving average of the weights with this decay (timm's --model-ema-decay, e.g. 0.999; 0: off), evaluated with the live weights and saved as ema.safetensors")
        ("mean", po::value<std::string>(), "normalisation mean per channel (default: computed from the training set)")
        ("std", po::value<std::string>(), "normalisation std per channel (default: computed)")
        ("val-split", po::value<double>()->default_value(0.0), "hold out this fraction of train as test when the data has no test split")
        ("seed", po::value<uint64_t>()->default_value(0), "random seed (initialisation, order, augmentation)")
        ("init", po::value<std::string>()->default_value("torch"), "initialisation: timm, or torch (PyTorch module defaults, as the anchor's reference model)")
        ("workers", po::value<int>()->default_value(2), "data loader threads")
        ("eval-every", po::value<int>()->default_value(1), "evaluate on the test split after every Nth epoch and after the last (metrics.csv leaves the others' test cells empty; best.safetensors is chosen among the evaluated epochs)")
        ("img-size", po::value<std::string>(), "with --init-from: run the model at this size (N or HxW)");
    // clang-format on
    add_threads_flag(options);
    add_dtype_flag(options);
    add_max_pixels_flag(options);
    CommandSpec command{"train", kUsage, {"data", "output"}};
    Recipe recipe;
    command.fill_in = [&](const po::variables_map& vm) {
        if (vm.count("recipe")) recipe = load_recipe(vm["recipe"].as<std::string>(), options);
        return recipe.args;
    };
    return run_command(command, options, args, [&](const po::variables_map& vm) -> int {
        if (vm.count("model-config") == vm.count("init-from"))
            throw UsageError("give exactly one of --model-config and --init-from");
        set_threads(vm["threads"].as<int>());

        vit::FitConfig fc;
        fc.epochs = vm["epochs"].as<int>();
        fc.batch = vm["batch"].as<int>();
        fc.lr = vm["lr"].as<float>();
        if (vm.count("lr-base")) {
            if (!vm["lr"].defaulted()) throw UsageError("give --lr or --lr-base, not both");
            const float base = vm["lr-base"].as<float>();
            const int size = vm["lr-base-size"].as<int>();
            const std::string scale = vm["lr-base-scale"].as<std::string>();
            if (!(base > 0)) throw UsageError("--lr-base must be positive, got " + std::to_string(base));
            if (size <= 0) throw UsageError("--lr-base-size must be positive, got " + std::to_string(size));
            if (scale != "sqrt" && scale != "linear")
                throw UsageError("--lr-base-scale must be sqrt or linear, got '" + scale + "'");
            // timm's train.py: batch_ratio = global batch / lr_base_size, square-rooted for adaptive optimizers.
            const double ratio = double(vm["batch"].as<int>()) / size;
            fc.lr = static_cast<float>(base * (scale == "sqrt" ? std::sqrt(ratio) : ratio));
        }
        fc.optim.layer_decay = vm["layer-decay"].as<float>();
        if (!(fc.optim.layer_decay > 0.0f && fc.optim.layer_decay <= 1.0f))
            throw UsageError("--layer-decay must be in (0, 1], got " + std::to_string(fc.optim.layer_decay));
        if (vm.count("train-only")) {
            if (vm["train-only"].as<std::string>() != "head")
                throw UsageError("--train-only takes 'head', got '" + vm["train-only"].as<std::string>() + "'");
            if (vm["freeze-blocks"].as<int>() != 0) throw UsageError("give --train-only head or --freeze-blocks, not both");
            fc.optim.trainable.head_only = true;
        }
        fc.optim.trainable.frozen_blocks = vm["freeze-blocks"].as<int>();
        if (fc.optim.trainable.frozen_blocks < 0)
            throw UsageError("--freeze-blocks must be >= 0, got " + std::to_string(fc.optim.trainable.frozen_blocks));
        fc.min_lr = vm["min-lr"].as<float>();
        fc.warmup_epochs = vm["warmup"].as<int>();
        fc.optim.weight_decay = vm["weight-decay"].as<float>();
        fc.optim.exclude_from_decay = vm["exclude-decay"].as<bool>();
        fc.optim.label_smoothing = vm["label-smoothing"].as<float>();
        fc.optim.clip_grad_norm = vm["clip-grad"].as<float>();
        fc.optim.dtype = dtype_flag(vm);
        vit::Regularization& reg = fc.optim.regularization;
        for (auto [flag, rate] : {std::pair{"drop-path", &reg.drop_path}, std::pair{"dropout", &reg.dropout},
                                  std::pair{"attn-drop", &reg.attn_drop}, std::pair{"head-drop", &reg.head_drop}})
            *rate = vm[flag].as<float>();
        check_flags("--drop-path, --dropout, --attn-drop or --head-drop", [&] { reg.validate(); });
        check_flags("--aa", [&] { fc.augment.auto_augment = vit::parse_auto_augment(vm["aa"].as<std::string>()); });
        vit::RandomErasing& erasing = fc.augment.erasing;
        erasing.prob = vm["reprob"].as<float>();
        const std::string remode = vm["remode"].as<std::string>();
        try {
            erasing.mode = vit::parse_erase_mode(remode);
        } catch (const vit::ConfigError&) {
            throw UsageError("--remode must be pixel, rand or const, got '" + remode + "'");
        }
        check_flags("--reprob", [&] { erasing.validate(); });
        vit::MixupConfig& mix = fc.augment.mixup;
        mix.mixup_alpha = vm["mixup"].as<float>();
        mix.cutmix_alpha = vm["cutmix"].as<float>();
        mix.prob = vm["mixup-prob"].as<float>();
        mix.switch_prob = vm["mixup-switch-prob"].as<float>();
        check_flags("--mixup, --cutmix, --mixup-prob or --mixup-switch-prob", [&] { mix.validate(); });
        if (vm.count("hflip") && vm["no-flip"].as<bool>()) throw UsageError("give --hflip or --no-flip, not both");
        fc.augment.hflip = vm["no-flip"].as<bool>() ? 0.0f : vm.count("hflip") ? vm["hflip"].as<float>() : 0.5f;
        if (!(fc.augment.hflip >= 0.0f && fc.augment.hflip <= 1.0f))
            throw UsageError("--hflip must be a probability in [0, 1], got " + std::to_string(fc.augment.hflip));
        const float jitter = vm["color-jitter"].as<float>();
        fc.augment.color_jitter = {jitter, jitter, jitter};
        check_flags("--color-jitter", [&] { fc.augment.color_jitter.validate(); });
        vit::ResizedCrop& rrc = fc.augment.resized_crop;
        const bool photos = vm.count("scale") > 0;
        if (photos) {
            rrc.enabled = true;
            rrc.scale = number_pair(vm, "scale");
            rrc.ratio = number_pair(vm, "ratio");
            check_flags("--train-interpolation", [&] {
                rrc.interpolation = vit::parse_train_interpolation(vm["train-interpolation"].as<std::string>());
            });
            try {
                rrc.validate();
            } catch (const vit::FieldError& e) {
                throw UsageError("--" + e.field + " " + e.requirement + ", got '" + vm[e.field].as<std::string>() + "'");
            }
        }
        vit::Cache cache = vit::Cache::Auto;
        check_flags("--cache", [&] { cache = vit::parse_cache(vm["cache"].as<std::string>()); });
        if (photos && cache == vit::Cache::Decoded)
            throw UsageError("--cache decoded keeps every image at the model's size, and --scale crops the original "
                             "images: use --cache none (or auto)");
        // The random resized crop reads the original image from its file.
        if (photos) cache = vit::Cache::None;
        fc.aug_repeats = vm["aug-repeats"].as<int>();
        fc.model_ema_decay = vm["model-ema"].as<float>();
        fc.seed = vm["seed"].as<uint64_t>();
        fc.workers = vm["workers"].as<int>();
        fc.eval_every = vm["eval-every"].as<int>();
        fc.run_dir = vm["output"].as<std::string>();
        fc.resume = vm["resume"].as<bool>();
        if (!recipe.source.empty()) {
            // Recorded under the file's own name, which is the recipe's name for the shipped ones.
            fc.recipe = std::filesystem::path(recipe.source).stem().string();
            fc.recipe_settings = recipe.flags_json;
            info("recipe " + recipe.source);
        }
        // The library's checks, reported under the flag that set each field.
        try {
            fc.validate();
        } catch (const vit::FieldError& e) {
            static const std::map<std::string, std::string> flag{
                {"epochs", "--epochs"},           {"batch", "--batch"},           {"lr", "--lr"},
                {"optim.label_smoothing", "--label-smoothing"}, {"model_ema_decay", "--model-ema"},
                {"workers", "--workers"},         {"eval_every", "--eval-every"}, {"aug_repeats", "--aug-repeats"}};
            const auto f = flag.find(e.field);
            throw UsageError((f == flag.end() ? e.field : f->second) + " " + e.requirement);
        }
        if (fc.batch < processes().size())
            throw UsageError("--batch " + std::to_string(fc.batch) + " cannot be split across " +
                             std::to_string(processes().size()) + " processes (each needs at least one image)");
        // The data options from flags are checked before the slow model load; the size follows the model.
        vit::LoadOptions lo;
        lo.val_split = vm["val-split"].as<double>();
        lo.seed = fc.seed;
        lo.warn = [](const std::string& m) { warn(m); };
        lo.image_limits = image_limits(vm);
        if (vm.count("classes")) lo.classes = split_list(vm["classes"].as<std::string>());
        check_flags("--val-split", [&] { lo.validate(); });
        vit::Init init_scheme;
        check_flags("--init", [&] { init_scheme = vit::parse_init(vm["init"].as<std::string>()); });

        // The model: a configuration with random weights, or a checkpoint to fine-tune.
        vit::Checkpoint init;
        ModelSpec spec;
        const bool from_ckpt = vm.count("init-from") > 0;
        if (from_ckpt) {
            init = load_model_checkpoint(vm["init-from"].as<std::string>(),
                                         vm.count("img-size") ? vm["img-size"].as<std::string>() : "");
            spec.config = init.config;
            spec.preprocess = init.preprocess;
        } else {
            spec = load_model_spec(vm["model-config"].as<std::string>());
        }
        const vit::ViTConfig& cfg = spec.config;
        if (fc.optim.trainable.frozen_blocks > cfg.depth)
            throw UsageError("--freeze-blocks " + std::to_string(fc.optim.trainable.frozen_blocks) + " is more than the model's " +
                             std::to_string(cfg.depth) + " blocks");

        lo.channels = cfg.in_chans;
        lo.height = cfg.img_h;
        lo.width = cfg.img_w;
        lo.cache = cache;
        if (photos) {
            // Evaluation as the model's own preprocessing: resize, then centre crop with crop_pct.
            vit::PreprocessConfig eval = spec.preprocess;
            eval.channels = cfg.in_chans;
            eval.height = cfg.img_h;
            eval.width = cfg.img_w;
            lo.eval_transform = eval;
        }
        const std::string data_path = vm["data"].as<std::string>();
        info("loading " + data_path);
        const auto t_load = std::chrono::steady_clock::now();
        Progress decoding("train (decoding)", 0);
        lo.progress = [&](size_t done, size_t total) { decoding.track(done, total); };
        const vit::DataSplit data = vit::load_dataset(data_path, lo);
        decoding.finish();
        info((data.train.streamed() ? "listed " : "loaded ") + std::to_string(data.train.size()) + " training and " +
             std::to_string(data.test.size()) + " test images, " + std::to_string(data.train.classes.size()) +
             " classes, in " +
             format_duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count()) +
             (data.train.streamed() ? "; they are read from disk every epoch (--cache none)"
              : data.train.files.empty() ? "" : "; decoded into memory (--cache decoded)"));

        const int classes = static_cast<int>(data.train.classes.size());
        vit::PreprocessConfig pre = spec.preprocess;
        if (vm.count("mean")) pre.mean = float_list(vm["mean"].as<std::string>(), "--mean", cfg.in_chans);
        if (vm.count("std")) pre.std = float_list(vm["std"].as<std::string>(), "--std", cfg.in_chans);
        // Photos are normalised as the model's preprocessing says (timm resolves mean and std from the
        // model); other data with its own statistics, as the reference recipe.
        if (!photos && (!vm.count("mean") || !vm.count("std"))) {
            std::vector<float> mean, sd;
            vit::channel_stats(data.train, mean, sd);
            if (!vm.count("mean")) pre.mean = mean;
            if (!vm.count("std")) pre.std = sd;
        }
        if (!photos) pre.crop_pct = 1.0;  // the training images are used at the model's size, uncropped

        std::unique_ptr<vit::Model> model;
        if (from_ckpt) {
            if (init.config.num_classes != classes) {
                info("replacing the " + std::to_string(init.config.num_classes) + "-class head with a new " +
                     std::to_string(classes) + "-class head");
                vit::replace_head(init, classes, fc.seed);
            }
            init.labels = data.train.classes;
            init.preprocess = pre;
            model = std::make_unique<vit::Model>(init);
            report_unused(*model, init.source);
        } else {
            vit::ViTConfig c = cfg;
            if (c.num_classes != classes) {
                info(spec.source + " has " + std::to_string(c.num_classes) + " classes; the data has " +
                     std::to_string(classes) + ": using " + std::to_string(classes));
                c.num_classes = classes;
            }
            model = std::make_unique<vit::Model>(c, pre, data.train.classes, fc.seed, init_scheme);
        }

        // The reference recipe pads CIFAR's 32 pixels by 4 and Fashion-MNIST's 28 by 2; photos get the
        // random resized crop instead.
        const int padding = vm["padding"].as<int>() >= 0 ? vm["padding"].as<int>() : cfg.img_h < 32 ? 2 : cfg.img_h / 8;
        fc.augment.random_crop = !vm["no-crop"].as<bool>() && padding > 0 && !photos;
        fc.augment.padding = padding;
        const std::string fill = vm["pad-fill"].as<std::string>();
        try {
            fc.augment.pad_fill = vit::parse_pad_fill(fill);
        } catch (const vit::ConfigError&) {
            throw UsageError("--pad-fill must be mean or black, got '" + fill + "'");
        }

        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        vit::FitCallbacks cb;
        Progress steps("train", 0);
        cb.on_step = [&](const vit::StepProgress& s) {
            if (!steps.due()) return;
            char buf[256];
            std::snprintf(buf, sizeof buf, "vit train: epoch %d/%d step %zu/%zu loss %.4f lr %.2e %.0f img/s ETA %s",
                          s.epoch, s.epochs, s.step, s.steps, s.loss, s.lr, s.images_per_s,
                          format_duration(s.eta_s).c_str());
            steps.draw(buf);
        };
        vit::Communicator& comm = processes();
        cb.on_epoch = [&](const vit::EpochMetrics& m) {
            // The run's ETA: the epochs left at this epoch's pace (the step lines, every few seconds, have
            // a finer one).
            // The loader's own rate (images per second of one worker thread) is what the augmentation
            // costs; the wait says whether it ever held the steps back.
            const double images = m.images_per_s * m.seconds;
            char test[64] = "test not evaluated";
            if (m.evaluated) std::snprintf(test, sizeof test, "test loss %.4f acc %.2f%%", m.test_loss, 100 * m.test_acc);
            char buf[448];
            std::snprintf(buf, sizeof buf,
                          "epoch %d/%d: train loss %.4f acc %.2f%% | %s | lr %.2e | %s, %.0f "
                          "img/s, waited %.2fs for data (loader %.0f img/s per thread) | ETA %s",
                          m.epoch, fc.epochs, m.train_loss, 100 * m.train_acc, test, m.lr,
                          format_duration(m.seconds).c_str(), m.images_per_s, m.data_wait_s,
                          m.data_busy_s > 0 ? images / m.data_busy_s : 0.0,
                          format_duration(m.seconds * (fc.epochs - m.epoch)).c_str());
            info(buf);
            // A picture that cannot be drawn must not stop the training: the metrics are in the CSV.
            const std::string run = fc.run_dir;
            try {
                write_png(run + "/curves.png", training_curves(run + "/metrics.csv"));
            } catch (const std::exception& e) {
                warn(std::string("curves.png not updated: ") + e.what());
            }
            if (comm.size() > 1) {
                // Where the data-parallel steps went: computing (with the data), waiting for the slowest
                // process, and the gradient allreduce.
                const double compute = m.seconds - m.sync_wait_s - m.allreduce_s;
                std::snprintf(buf, sizeof buf, "epoch %d/%d on %d processes: compute %.2fs, waiting %.2fs, allreduce %.2fs (%.1f%%)",
                              m.epoch, fc.epochs, comm.size(), compute, m.sync_wait_s, m.allreduce_s,
                              100 * m.allreduce_s / std::max(m.seconds, 1e-9));
                info(buf);
            }
        };
        cb.stop_requested = [] { return g_stop.load(); };
        cb.on_warning = [](const std::string& m) { warn(m); };
        info(std::string(fc.resume ? "resuming" : "training") + " " + std::to_string(model->params().size()) +
             " parameters for " + std::to_string(fc.epochs) + " epochs, batch " + std::to_string(fc.batch) +
             (comm.size() > 1 ? " split across " + std::to_string(comm.size()) + " processes" : "") + " -> " + fc.run_dir);
        const vit::FitOutcome out = vit::fit(*model, data, fc, cb, comm);
        ended_together();
        if (out == vit::FitOutcome::Stopped) {
            info("stopped: checkpoint written to " + fc.run_dir + "/last.safetensors; continue with --resume");
            return kExitInterrupted;
        }
        info("done: " + fc.run_dir + "/best.safetensors, " + fc.run_dir + "/metrics.csv");
        return kExitOk;
    });
}

}  // namespace vit_cli
