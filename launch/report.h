// Human-readable and JSON results of train and eval.
#pragma once
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

namespace rampart {

// A few lines: accuracies, throughput, cost; and the gradient-masking warning if any.
void print_summary(const nlohmann::json& s, std::FILE* out);

// Writes JSON to path atomically (tmp + rename); IoError on failure.
void write_json_file(const std::string& path, const nlohmann::json& j);

}  // namespace rampart
