// The model spec's tree of named modules (sequential containers, residual
// blocks, leaf layers; docs/model-spec.md), flattened into what Model runs:
// the leaf layers in forward order with their PyTorch names, and a program of
// steps over numbered values (value 0 is the model's input).
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rampart {

struct GraphLeaf {
  std::string name;     // the module path, PyTorch's: "3", "layer1.0.conv1", "layer1.0.shortcut.0"
  nlohmann::json spec;  // the leaf's spec without "name", as make_layer takes it
};

// One step of the forward program. A leaf step runs leaves[leaf] on value `in`
// and writes value `out`; an add step (a residual block's join) writes
// out = in + in2. Each value is written by exactly one step, before any step
// that reads it, so the program's order is a topological order of the graph.
struct GraphStep {
  int leaf = -1;      // -1 for an add
  int in = 0, in2 = -1, out = 0;
  std::string block;  // an add: the residual block's path, for messages
};

struct ModuleGraph {
  std::vector<GraphLeaf> leaves;  // forward order
  std::vector<GraphStep> steps;   // forward order
  int num_values = 1;             // value 0 is the input
  int output = 0;                 // the value holding the logits
  // The spec is a flat list of leaf layers without names: the form before
  // graphs (names "0.weight", ...; every step feeds the next).
  bool plain = true;
};

// Parses a model spec: a non-empty JSON list (the top-level sequential
// container). Throws ConfigError for a malformed container (unknown fields,
// a name that is not a plain identifier, two children of one module with the
// same name, a residual block without a body). Leaf objects are not checked
// here: make_layer does that when the model builds them.
ModuleGraph parse_module_graph(const nlohmann::json& spec);

}  // namespace rampart
