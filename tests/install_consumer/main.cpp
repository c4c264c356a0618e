// Plans a tiny random ViT and runs one image through it: compiles against the installed headers and
// links the installed library with all it needs (oneDNN, OpenCV, OpenMP, ONNX).
#include <cstdio>
#include <vector>

#include <vit/vit.hpp>

int main() {
    vit::ViTConfig cfg;
    cfg.img_h = cfg.img_w = 16;
    cfg.patch_size = 8;
    cfg.num_classes = 3;
    cfg.embed_dim = 16;
    cfg.depth = 1;
    cfg.num_heads = 2;
    vit::PreprocessConfig pre;
    pre.height = pre.width = 16;
    const vit::Model model(cfg, pre, {"a", "b", "c"}, /*seed=*/1);
    vit::Runner runner(model, 1);
    const std::vector<float> x(3 * 16 * 16, 0.5f);
    const float* logits = runner.forward(x.data(), 1);
    std::printf("logits %.4f %.4f %.4f\n", double(logits[0]), double(logits[1]), double(logits[2]));
    return 0;
}
