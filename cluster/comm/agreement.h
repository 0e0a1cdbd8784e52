// Before training, every rank checks that all ranks agree on the facts that
// must be equal (model spec hash, parameter count, config hash, dataset size),
// so a mismatch fails at once with a message instead of hanging or diverging.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "cluster/comm/communicator.h"

namespace rampart {

// facts: (name, value) pairs, e.g. {"parameter count", "421642"}. Collective:
// one all-gather, whatever the facts are, so it cannot hang even when ranks
// pass different lists. If any rank differs, every rank throws the same
// ConfigError naming the fact, the ranks and their values:
//   ranks disagree on "parameter count": rank 0 has 421642, rank 1 has 421834;
//   start every rank with the same --config and model
void check_agreement(Communicator& comm, const std::vector<std::pair<std::string, std::string>>& facts);

// 16 hex digits of FNV-1a of s: a short fact to agree on for a long text (a spec, a config).
std::string hash_hex(const std::string& s);

// The verdict on gathered facts (per rank, in rank order): "" when all agree,
// else the message above. Pure; check_agreement throws it.
std::string agreement_error(const std::vector<std::vector<std::pair<std::string, std::string>>>& per_rank);

// "0-3,5,7-8": a compact list of ranks (sorted ascending) for messages.
std::string format_ranks(const std::vector<int>& ranks);

}  // namespace rampart
