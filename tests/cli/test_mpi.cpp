// `vit` under mpirun (built only when CMake found MPI): data-parallel train-step and training give the
// single process's results, classify shards its inputs and keeps their order, and a killed rank ends
// the job quickly with the last checkpoint intact. docs/DISTRIBUTED.md explains the design.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_helpers.hpp"
#include "image_folder_fixture.hpp"
#include "train_step_fixture.hpp"
#include "vit/vit.hpp"

using namespace vit_test;

namespace {

// What a container needs: root is allowed, more processes than cores, no process pinning (the ranks
// share the cores with the other tests), shared memory without the kernel's cross-memory attach, and
// the ob1 messaging layer over shared memory only (no network probing).
const std::string kMpirun = std::string(VIT_MPIEXEC) +
                            " --allow-run-as-root --oversubscribe --bind-to none --mca pml ob1 --mca btl self,vader"
                            " --mca btl_vader_single_copy_mechanism none";

class Mpi : public Cli {
protected:
    // `vit ARGS` on np processes of one mpirun job.
    Result mpirun(int np, const std::string& args) {
        return run_command(kMpirun + " -np " + std::to_string(np) + " " + quote(kBinary) + " " + args,
                           tmp_ / "stderr.txt");
    }
};

// The largest difference between the tensors of two checkpoints, relative to the largest magnitude in
// the first one's tensor; where names the tensor.
double max_relative_difference(const fs::path& a_path, const fs::path& b_path, std::string& where) {
    const vit::Checkpoint a = vit::load_checkpoint(a_path.string());
    const vit::Checkpoint b = vit::load_checkpoint(b_path.string());
    EXPECT_EQ(a.weights.size(), b.weights.size());
    double worst = 0;
    for (const auto& [name, t] : a.weights) {
        const vit::Tensor& u = b.weights.at(name);
        EXPECT_EQ(u.shape, t.shape) << name;
        if (u.shape != t.shape) continue;
        float scale = 0, diff = 0;
        for (size_t i = 0; i < t.data.size(); ++i) {
            scale = std::max(scale, std::fabs(t.data[i]));
            diff = std::max(diff, std::fabs(t.data[i] - u.data[i]));
        }
        const double r = scale > 0 ? diff / scale : diff;
        if (r >= worst) {
            worst = r;
            where = name;
        }
    }
    return worst;
}

void expect_same_weights(const fs::path& a, const fs::path& b, double rel) {
    std::string where;
    EXPECT_LE(max_relative_difference(a, b, where), rel) << "in " << where << " (" << a << " vs " << b << ")";
}

}  // namespace

TEST_F(Mpi, TrainStepOnTwoProcessesGivesTheSingleProcessOutputAndMatchesPyTorch) {
    const std::string& dir = kFixture;
    const std::string args = "train-step --threads 1 --model " + quote(dir) + " --batch " +
                             quote(dir + "/train_step.safetensors") + " --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1";
    const fs::path one = tmp_ / "one.safetensors", two = tmp_ / "two.safetensors";
    const Result r1 = run(args + " --output " + quote(one.string()));
    EXPECT_CLEAN_EXIT(r1, 0);
    const Result r2 = mpirun(2, args + " --output " + quote(two.string()));
    EXPECT_CLEAN_EXIT(r2, 0);
    EXPECT_EQ(lines_of(r2.out).size(), 1u) << "only rank 0 prints the loss:\n" << r2.out;
    expect_matches_train_step_fixture(two, dir + "/train_step.safetensors");
    // One process's output within the same tolerances: the gradients agree to float rounding, and so do
    // the updated parameters, except where a gradient is at rounding level (the key bias's is 0 in
    // exact arithmetic) and AdamW's first step, about lr * sign(g), follows its rounding.
    expect_matches_train_step_fixture(two, one.string());
}

class MpiTrain : public Mpi {
protected:
    void SetUp() override {
        Mpi::SetUp();
        data_ = tmp_ / "data";
        write_image_folder(data_, 128, 2);  // 384 training images: 3 steps of 128 per epoch
        config_ = tmp_ / "tiny.json";
        // No qkv bias: the key bias's gradient is 0 in exact arithmetic (a softmax does not change when
        // q . b_k is added to a whole row of scores), so in floats it is rounding noise, which AdamW
        // scales up to steps of about lr whose signs follow the rounding of each run's sums.
        write_config(config_, 16, "\"qkv_bias\": false, ");
    }
    std::string train_args(const fs::path& run, int epochs, int batch) const {
        return "train --threads 1 --workers 1 --data " + quote(data_.string()) + " --model-config " +
               quote(config_.string()) + " --epochs " + std::to_string(epochs) + " --batch " + std::to_string(batch) +
               " --lr 3e-3 --warmup 0 --output " + quote(run.string());
    }
    fs::path data_, config_;
};

TEST_F(MpiTrain, TwoProcessesOf64EndWithTheWeightsOfOneProcessOf128) {
    const Result one = run(train_args(tmp_ / "one", 1, 128));
    EXPECT_CLEAN_EXIT(one, 0);
    const Result two = mpirun(2, train_args(tmp_ / "two", 1, 128));
    EXPECT_CLEAN_EXIT(two, 0);
    EXPECT_NE(two.err.find("split across 2 processes"), std::string::npos) << two.err;
    EXPECT_NE(two.err.find("allreduce"), std::string::npos) << two.err;
    expect_same_weights(tmp_ / "one" / "last.safetensors", tmp_ / "two" / "last.safetensors", 1e-5);
    // The same metrics: the loss and accuracy are the global batch's.
    const auto metrics = [&](const char* run) { return lines_of(read_file(tmp_ / run / "metrics.csv")); };
    ASSERT_EQ(metrics("one").size(), 2u);
    ASSERT_EQ(metrics("two").size(), 2u);
    const std::vector<std::string> a = csv_split(metrics("one")[1]), b = csv_split(metrics("two")[1]);
    for (int col : {1, 2, 3, 4}) EXPECT_NEAR(std::stod(a[size_t(col)]), std::stod(b[size_t(col)]), 1e-5) << col;
}

// Dropout, drop-path, attention and head dropout draw their masks from each image's place in the global
// batch; mixup and cutmix pair images across the processes' slices; RandAugment and random erasing are
// per image. With all of them on, an uneven split (3 processes: 42, 43, 43 images) still trains like one.
TEST_F(MpiTrain, WithEveryRegulariserAndMixingThreeProcessesTrainLikeOne) {
    const std::string reg = " --drop-path 0.3 --dropout 0.1 --attn-drop 0.1 --head-drop 0.1 --mixup 0.8 --cutmix 1.0"
                            " --mixup-switch-prob 0.5 --aa rand-m9-mstd0.5-inc1 --reprob 0.25 --model-ema 0.9";
    const Result one = run(train_args(tmp_ / "one", 1, 128) + reg);
    EXPECT_CLEAN_EXIT(one, 0);
    const Result two = mpirun(2, train_args(tmp_ / "two", 1, 128) + reg);
    EXPECT_CLEAN_EXIT(two, 0);
    const Result three = mpirun(3, train_args(tmp_ / "three", 1, 128) + reg);
    EXPECT_CLEAN_EXIT(three, 0);
    for (const char* run : {"two", "three"}) {
        expect_same_weights(tmp_ / "one" / "last.safetensors", tmp_ / run / "last.safetensors", 1e-5);
        expect_same_weights(tmp_ / "one" / "ema.safetensors", tmp_ / run / "ema.safetensors", 1e-5);
    }
    // Without the global positions the masks would differ: a run with another seed is far away.
    const Result other = run(train_args(tmp_ / "other", 1, 128) + reg + " --seed 1");
    EXPECT_CLEAN_EXIT(other, 0);
    std::string where;
    EXPECT_GT(max_relative_difference(tmp_ / "one" / "last.safetensors", tmp_ / "other" / "last.safetensors", where), 1e-3);
}

TEST_F(Mpi, ClassifyOnSeveralProcessesWritesTheSingleProcessRowsInOrder) {
    // The samples plus an unreadable file: every process count reports it and exits with status 1.
    const fs::path inputs = tmp_ / "inputs";
    fs::copy(kSamples, inputs, fs::copy_options::recursive);
    std::ofstream(inputs / "broken.jpg") << "not an image";
    const std::string args = "classify --threads 1 --batch 1 --top-k 2 --model " + quote(kModel) + " " + quote(inputs.string());
    const Result one = run(args);
    EXPECT_CLEAN_EXIT(one, 1);
    ASSERT_EQ(lines_of(one.out).size(), 12u);  // header + 11 images
    for (int np : {2, 3}) {
        const Result r = mpirun(np, args);
        EXPECT_CLEAN_EXIT(r, 1);
        EXPECT_EQ(r.out, one.out) << np << " processes";
        EXPECT_NE(r.err.find("broken.jpg"), std::string::npos) << r.err;
    }
    // JSON into a file, written by rank 0 alone.
    const fs::path json = tmp_ / "out.json";
    const Result j1 = run(args + " --format json");
    const Result j2 = mpirun(2, args + " --format json --output " + quote(json.string()));
    EXPECT_CLEAN_EXIT(j2, 1);
    EXPECT_EQ(read_file(json), j1.out);
    EXPECT_EQ(nlohmann::json::parse(read_file(json)).size(), 11u);
}

namespace {

// The processes whose parent is `parent` and whose environment says they are MPI rank `rank`.
pid_t child_with_rank(pid_t parent, int rank) {
    for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string name = e.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(e.path() / "stat");
        std::string pid, comm, state;
        pid_t ppid = 0;
        if (!(stat >> pid >> comm >> state >> ppid) || ppid != parent) continue;
        const std::string env = read_file(e.path() / "environ");
        if (env.find("OMPI_COMM_WORLD_RANK=" + std::to_string(rank) + '\0') != std::string::npos)
            return static_cast<pid_t>(std::stol(name));
    }
    return 0;
}

}  // namespace

TEST_F(MpiTrain, AKilledRankEndsTheJobWithinSecondsAndTheRunResumesFromItsCheckpoint) {
    const fs::path run = tmp_ / "run", err = tmp_ / "killed.txt";
    write_image_folder(tmp_ / "small", 16, 2);
    data_ = tmp_ / "small";
    // Far more epochs than run before the kill; every epoch writes last.safetensors.
    const std::string cmd = "exec " + kMpirun + " -np 2 " + quote(kBinary) + " " + train_args(run, 10000000, 8) +
                            " 2>" + quote(err.string());
    const pid_t job = ::fork();
    ASSERT_GE(job, 0);
    if (job == 0) {
        ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + std::chrono::seconds(120);
    pid_t victim = 0;
    while (clock::now() < deadline && !(fs::exists(run / "last.safetensors") && (victim = child_with_rank(job, 1))))
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // well into the run
    ASSERT_GT(victim, 0) << "rank 1 of the job never started or never wrote a checkpoint:\n" << read_file(err);
    ASSERT_EQ(::kill(victim, SIGKILL), 0);
    const auto killed = clock::now();
    int status = 0;
    pid_t done = 0;
    while ((done = ::waitpid(job, &status, WNOHANG)) == 0 && clock::now() - killed < std::chrono::seconds(30))
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double seconds = std::chrono::duration<double>(clock::now() - killed).count();
    if (done == 0) {  // a hang: end the job this test started
        ::kill(job, SIGKILL);
        ::waitpid(job, &status, 0);
        FAIL() << "the job still ran 30 s after rank 1 was killed:\n" << read_file(err);
    }
    EXPECT_LT(seconds, 10.0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << read_file(err);
    const std::string message = read_file(err);
    EXPECT_NE(message.find("rank 1"), std::string::npos) << message;
    EXPECT_NE(message.find("signal 9"), std::string::npos) << message;

    // The checkpoint is whole, and the run goes on from it on two processes, then on one.
    const vit::Checkpoint ck = vit::load_checkpoint((run / "last.safetensors").string());
    const int epoch = nlohmann::json::parse(ck.train_state).at("epoch").get<int>();
    EXPECT_GE(epoch, 1);
    const Result two = mpirun(2, train_args(run, epoch + 1, 8) + " --resume");
    EXPECT_CLEAN_EXIT(two, 0);
    const Result one = this->run(train_args(run, epoch + 2, 8) + " --resume");
    EXPECT_CLEAN_EXIT(one, 0);
    EXPECT_EQ(nlohmann::json::parse(vit::load_checkpoint((run / "last.safetensors").string()).train_state).at("epoch"),
              epoch + 2);
}
