// Parsing the module tree of a model spec into leaves and steps; see module_graph.h.
#include "runtime/graph/module_graph.h"

#include <set>

#include "runtime/errors.h"
#include "runtime/layers/spec_fields.h"

namespace rampart {
namespace {

using nlohmann::json;

std::string join(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// "model spec: module layer1.0 (residual): " + msg.
[[noreturn]] void fail(const std::string& path, const char* type, const std::string& msg) {
  std::string where = path.empty() ? "" : "module " + path + (type ? std::string(" (") + type + ")" : "") + ": ";
  throw ConfigError("model spec: " + where + msg);
}

bool valid_name(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool is_container(const json& j, const char* type) {
  return j.is_object() && j.contains("type") && j["type"].is_string() && j["type"] == type;
}

class Builder {
 public:
  explicit Builder(ModuleGraph& g) : g_(g) {}

  // The children of one container, named by "name" or default_name(i), all in
  // the namespace `prefix` (names unique there: they become state_dict keys).
  struct Scope {
    std::string prefix;
    const char* type;
    std::set<std::string> names;
  };

  // Runs the list `children` in order from value v; returns the last value.
  int sequence(const json& children, Scope& scope, const std::string& default_prefix, int v) {
    for (size_t i = 0; i < children.size(); ++i) {
      const json& c = children[i];
      std::string name = default_prefix + std::to_string(i);
      if (c.is_object() && c.contains("name")) {
        const json& n = c["name"];
        if (!n.is_string() || !valid_name(n.get<std::string>()))
          fail(scope.prefix, scope.type, "child " + std::to_string(i) +
                   ": \"name\" must be a non-empty string of letters, digits and '_' (a PyTorch attribute "
                   "name), found " + json_brief(n));
        name = n.get<std::string>();
        g_.plain = false;
      }
      if (!scope.names.insert(name).second)
        fail(scope.prefix, scope.type, "two children are named \"" + name +
                 "\"; expected unique names (they become the state_dict keys " + join(scope.prefix, name) +
                 ".*); give one of them another \"name\"");
      v = module(c, join(scope.prefix, name), v);
    }
    return v;
  }

  int module(const json& j, const std::string& path, int v) {
    if (j.is_array()) {  // an unnamed sequential
      g_.plain = false;
      Scope s{path, "sequential", {}};
      return sequence(j, s, "", v);
    }
    if (is_container(j, "sequential")) return sequential(j, path, v);
    if (is_container(j, "residual")) return residual(j, path, v);
    return leaf(j, path, v);
  }

 private:
  // Object fields besides "type" and "name" must be among `allowed`.
  static void check_fields(const json& j, const std::string& path, const char* type,
                           std::initializer_list<const char*> allowed) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "type" || it.key() == "name") continue;
      bool ok = false;
      std::string list = "\"name\"";
      for (const char* a : allowed) ok = ok || it.key() == a, list += std::string(", \"") + a + "\"";
      if (!ok) fail(path, type, "unknown field \"" + it.key() + "\"; expected only " + list);
    }
  }

  static const json& list_field(const json& j, const std::string& path, const char* type, const char* key) {
    static const json kEmpty = json::array();
    if (!j.contains(key)) return kEmpty;
    const json& v = j[key];
    if (!v.is_array())
      fail(path, type, std::string("\"") + key + "\" must be a list of modules, found " + json_brief(v));
    return v;
  }

  int sequential(const json& j, const std::string& path, int v) {
    g_.plain = false;
    check_fields(j, path, "sequential", {"children"});
    if (!j.contains("children")) fail(path, "sequential", "missing field \"children\" (a list of modules)");
    Scope s{path, "sequential", {}};
    return sequence(list_field(j, path, "sequential", "children"), s, "", v);
  }

  // out = post(body(p) + shortcut(from)), p = pre(x), from = x or p.
  int residual(const json& j, const std::string& path, int x) {
    g_.plain = false;
    const char* t = "residual";
    check_fields(j, path, t, {"pre", "body", "shortcut", "shortcut_from", "post"});
    const json& body = list_field(j, path, t, "body");
    if (body.empty()) fail(path, t, "\"body\" must be a non-empty list of modules (the residual branch)");
    std::string from = "input";
    if (j.contains("shortcut_from")) {
      const json& f = j["shortcut_from"];
      if (!f.is_string() || (f != "input" && f != "pre"))
        fail(path, t, "\"shortcut_from\" must be \"input\" (the block's input) or \"pre\" (the output of "
                      "\"pre\", as in pre-activation blocks), found " + json_brief(f));
      from = f.get<std::string>();
    }
    // Every branch names its children in the block's own namespace (PyTorch's
    // blocks hold bn1, conv1, ... directly); unnamed ones are "<branch>.<i>",
    // so an unnamed shortcut [conv, bn] gives shortcut.0.*, shortcut.1.*.
    Scope s{path, t, {}};
    int p = sequence(list_field(j, path, t, "pre"), s, "pre.", x);
    int b = sequence(body, s, "body.", p);
    int sc = sequence(list_field(j, path, t, "shortcut"), s, "shortcut.", from == "pre" ? p : x);
    GraphStep add;
    add.in = b;
    add.in2 = sc;
    add.out = g_.num_values++;
    add.block = path;
    g_.steps.push_back(add);
    return sequence(list_field(j, path, t, "post"), s, "post.", add.out);
  }

  int leaf(const json& j, const std::string& path, int v) {
    GraphLeaf l{path, j};
    if (j.is_object()) l.spec.erase("name");
    GraphStep st;
    st.leaf = int(g_.leaves.size());
    st.in = v;
    st.out = g_.num_values++;
    g_.leaves.push_back(std::move(l));
    g_.steps.push_back(st);
    return st.out;
  }

  ModuleGraph& g_;
};

}  // namespace

ModuleGraph parse_module_graph(const json& spec) {
  if (!spec.is_array() || spec.empty())
    throw ConfigError("model spec: expected a non-empty JSON list of layers, found " +
                      std::string(spec.is_array() ? "an empty list" : spec.type_name()));
  ModuleGraph g;
  Builder b(g);
  Builder::Scope top{"", nullptr, {}};
  g.output = b.sequence(spec, top, "", 0);
  return g;
}

}  // namespace rampart
