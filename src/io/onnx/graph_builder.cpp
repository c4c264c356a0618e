#include "io/onnx/graph_builder.hpp"

#include <cstring>
#include <sstream>

#include "vit/util/error.hpp"

namespace vit::onnx_graph {

std::string GraphBuilder::fresh(const std::string& hint) {
    // The first use of a hint keeps it as is; later ones get the first free "_<n>" suffix.
    std::string name = hint;
    int& n = suffix_[hint];
    while (taken_.count(name)) name = hint + "_" + std::to_string(++n);
    taken_.insert(name);
    return name;
}

void GraphBuilder::claim(const std::string& name) {
    if (!taken_.insert(name).second) throw FormatError("ONNX graph: the value name '" + name + "' is already taken");
}

void GraphBuilder::add_node(const std::string& type, const std::vector<std::string>& inputs, const std::string& output,
                            const std::vector<Attr>& attrs) {
    onnx::NodeProto* n = g_.add_node();
    n->set_op_type(type);
    n->set_name(output);  // a node is named after its output: unique, and readable in a graph viewer
    for (const auto& in : inputs) n->add_input(in);
    n->add_output(output);
    for (const Attr& a : attrs) {
        onnx::AttributeProto* p = n->add_attribute();
        p->set_name(a.name);
        switch (a.kind) {
        case Attr::Kind::Int:
            p->set_type(onnx::AttributeProto::INT);
            p->set_i(a.i);
            break;
        case Attr::Kind::Float:
            p->set_type(onnx::AttributeProto::FLOAT);
            p->set_f(a.f);
            break;
        case Attr::Kind::Ints:
            p->set_type(onnx::AttributeProto::INTS);
            for (int64_t v : a.ints) p->add_ints(v);
            break;
        }
    }
}

void GraphBuilder::op_into(const std::string& type, const std::vector<std::string>& inputs, const std::string& output,
                           const std::vector<Attr>& attrs) {
    claim(output);
    add_node(type, inputs, output, attrs);
}

std::string GraphBuilder::op(const std::string& type, const std::vector<std::string>& inputs, const std::string& hint,
                             const std::vector<Attr>& attrs) {
    const std::string out = fresh(hint);
    add_node(type, inputs, out, attrs);
    return out;
}

void GraphBuilder::weight(const std::string& name, const Shape& shape, const float* data) {
    add_initializer(name, shape, onnx::TensorProto::FLOAT, data, sizeof(float));
}

void GraphBuilder::weight(const std::string& name, const Shape& shape, const std::int8_t* data) {
    add_initializer(name, shape, onnx::TensorProto::INT8, data, sizeof(std::int8_t));
}

void GraphBuilder::add_initializer(const std::string& name, const Shape& shape, int type, const void* data,
                                   size_t element_bytes) {
    claim(name);
    onnx::TensorProto* t = g_.add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : shape) t->add_dims(d);
    // raw_data is little-endian, as this machine stores it.
    t->set_raw_data(static_cast<const char*>(data), size_t(shape_numel(shape)) * element_bytes);
}

std::string GraphBuilder::constant(const std::string& key, const std::string& hint, onnx::TensorProto t) {
    const auto it = const_.find(key);
    if (it != const_.end()) return it->second;
    const std::string name = fresh(hint);
    t.set_name(name);
    *g_.add_initializer() = std::move(t);
    const_.emplace(key, name);
    return name;
}

std::string GraphBuilder::scalar(float v) {
    std::ostringstream key;
    key.precision(9);
    key << "f:" << v;
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::FLOAT);
    t.add_float_data(v);
    return constant(key.str(), "const.float", std::move(t));
}

std::string GraphBuilder::index(int64_t v) {
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_int64_data(v);
    return constant("i:" + std::to_string(v), "const.index" + std::to_string(v), std::move(t));
}

std::string GraphBuilder::ints(const std::vector<int64_t>& v) {
    std::string key = "v:";
    for (int64_t x : v) key += std::to_string(x) + ",";
    onnx::TensorProto t;
    t.set_data_type(onnx::TensorProto::INT64);
    t.add_dims(int64_t(v.size()));
    for (int64_t x : v) t.add_int64_data(x);
    return constant(key, "const.ints", std::move(t));
}

void GraphBuilder::value_info(onnx::ValueInfoProto& v, const std::string& name, const Shape& shape,
                              const std::string& dim_param) {
    v.set_name(name);
    onnx::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    onnx::TensorShapeProto* s = t->mutable_shape();
    for (int64_t d : shape) {
        if (d < 0) s->add_dim()->set_dim_param(dim_param);
        else s->add_dim()->set_dim_value(d);
    }
}

void GraphBuilder::input(const std::string& name, const Shape& shape, const std::string& dim_param) {
    claim(name);
    value_info(*g_.add_input(), name, shape, dim_param);
}

void GraphBuilder::output(const std::string& name, const Shape& shape, const std::string& dim_param) {
    value_info(*g_.add_output(), name, shape, dim_param);
}

}  // namespace vit::onnx_graph
