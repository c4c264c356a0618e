// Writing an ONNX graph node by node with libonnx's protobuf classes: unique value names, constants as
// initializers, and the few attribute kinds the ViT graph needs. Knows nothing about ViTs.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <onnx/onnx_pb.h>

#include "vit/util/tensor.hpp"

namespace vit::onnx_graph {

// One node attribute: an integer, a float or a list of integers.
struct Attr {
    enum class Kind { Int, Float, Ints };
    std::string name;
    Kind kind;
    int64_t i = 0;
    float f = 0;
    std::vector<int64_t> ints;

    static Attr integer(std::string name, int64_t v) { return {std::move(name), Kind::Int, v, 0, {}}; }
    static Attr real(std::string name, float v) { return {std::move(name), Kind::Float, 0, v, {}}; }
    static Attr list(std::string name, std::vector<int64_t> v) { return {std::move(name), Kind::Ints, 0, 0, std::move(v)}; }
};

class GraphBuilder {
public:
    explicit GraphBuilder(onnx::GraphProto& graph) : g_(graph) {}

    // A node of the default domain; its one output gets a fresh name built from hint ("blocks.0.qkv",
    // then "blocks.0.qkv_1", ...), which is returned.
    std::string op(const std::string& type, const std::vector<std::string>& inputs, const std::string& hint,
                   const std::vector<Attr>& attrs = {});
    // The same with an output name chosen by the caller (a graph output): the name must be unused.
    void op_into(const std::string& type, const std::vector<std::string>& inputs, const std::string& output,
                 const std::vector<Attr>& attrs = {});

    // A float32 or int8 initializer with exactly this name and shape (a model parameter, or its
    // quantised form).
    void weight(const std::string& name, const Shape& shape, const float* data);
    void weight(const std::string& name, const Shape& shape, const std::int8_t* data);
    // Constants, one initializer per distinct value: a float scalar, an int64 scalar (a Gather index) or
    // an int64 vector (shapes, axes, slice bounds).
    std::string scalar(float v);
    std::string index(int64_t v);
    std::string ints(const std::vector<int64_t>& v);

    // Graph inputs and outputs: float32, dimensions as numbers, a negative one as the symbolic dim_param.
    void input(const std::string& name, const Shape& shape, const std::string& dim_param);
    void output(const std::string& name, const Shape& shape, const std::string& dim_param);

private:
    std::string fresh(const std::string& hint);  // a new value name from hint, taken
    void claim(const std::string& name);         // takes name; FormatError if it was taken
    void add_initializer(const std::string& name, const Shape& shape, int type, const void* data, size_t element_bytes);
    void add_node(const std::string& type, const std::vector<std::string>& inputs, const std::string& output,
                  const std::vector<Attr>& attrs);
    std::string constant(const std::string& key, const std::string& hint, onnx::TensorProto t);
    void value_info(onnx::ValueInfoProto& v, const std::string& name, const Shape& shape, const std::string& dim_param);

    onnx::GraphProto& g_;
    std::unordered_set<std::string> taken_;               // every value name in the graph
    std::unordered_map<std::string, int> suffix_;         // hint -> the last suffix tried
    std::unordered_map<std::string, std::string> const_;  // constant's value key -> initializer name
};

}  // namespace vit::onnx_graph
