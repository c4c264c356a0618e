// The one oneDNN CPU engine and stream of the process, shared by the layers and by cpu_support's probes.
// Private to the library.
#pragma once
#include <oneapi/dnnl/dnnl.hpp>

namespace vit::onednn {

using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

dnnl::engine& cpu_engine();
dnnl::stream& cpu_stream();

}  // namespace vit::onednn
