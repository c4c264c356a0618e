// Hugging Face Hub model ids, found in the local Hugging Face cache. Nothing here touches the network:
// a model that is not in the cache is an error that says how to download it.
#pragma once
#include <string>

namespace vit {

// Turns a model spec into something load_checkpoint reads:
//   - a spec that exists on disk (file or folder) is returned unchanged: paths win over ids;
//   - so is a spec that can only be a path: no '/' or more than one, starting with '/', './', '../' or
//     '~/', or ending in a model-file extension (.safetensors, .bin, .pt, .pth, .ckpt, .onnx, .json,
//     .npz; other dots are allowed in Hub names);
//   - otherwise the spec is a Hub id, "ORG/NAME" ("timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k",
//     "google/vit-base-patch16-224"), optionally written "hf-hub:ORG/NAME" as timm does, and the result
//     is the snapshot folder CACHE/models--ORG--NAME/snapshots/<hash>/ holding its config.json and
//     model.safetensors, where <hash> is the commit named by refs/main (or the only snapshot when
//     refs/main is absent).
// CACHE is huggingface_hub's: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
// Throws ConfigError for a malformed id (empty ORG or NAME, "..", characters the Hub
// does not allow), IoError when the model is not in the cache (naming the path tried and the
// `huggingface-cli download ORG/NAME` command that fetches it) and FormatError for an unreadable
// refs/main.
std::string resolve_model_spec(const std::string& spec);

}  // namespace vit
