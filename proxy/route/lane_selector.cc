#include "route/lane_selector.h"

#include <cmath>
#include <limits>

namespace laneproxy::route {

std::size_t smooth_state::pick(const config::route_rule& rule) {
  const auto& targets = rule.targets;
  if (targets.size() == 1 || rule.total_weight == 0) return 0;
  auto& scores = scores_[&rule];
  if (scores.size() != targets.size()) scores.assign(targets.size(), 0);
  std::size_t best = 0;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    scores[i] += targets[i].weight;
    if (scores[i] > scores[best]) best = i;
  }
  scores[best] -= static_cast<std::int64_t>(rule.total_weight);
  return best;
}

namespace {
// FNV-1a over the key and the target's name, then a SplitMix64 finish so
// that similar keys spread over the whole 64-bit range.
std::uint64_t hash_of(std::string_view key, std::string_view target) {
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : key) h = (h ^ c) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;  // a separator no byte of the key can fake
  for (const unsigned char c : target) h = (h ^ c) * 1099511628211ull;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}
}  // namespace

std::size_t pick_sticky(const config::route_rule& rule, std::string_view key) {
  const auto& targets = rule.targets;
  if (targets.size() == 1 || rule.total_weight == 0) return 0;
  std::size_t best = 0;
  double best_score = std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].weight == 0) continue;
    const auto& t = targets[i];
    const std::uint64_t h = hash_of(key, t.subset.empty() ? t.service : t.subset);
    // u in (0, 1): 53 random bits, never 0.
    const double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
    const double score = -std::log(u) / static_cast<double>(t.weight);
    if (score < best_score) {
      best_score = score;
      best = i;
    }
  }
  return best;
}

}  // namespace laneproxy::route
