#include "install/dkms_order.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"

namespace ibdriver::install {

namespace {

constexpr const char* bad_bundle_hint =
    "the bundle's DKMS packages cannot be built in any order as they are: use the vendor's bundle as downloaded, "
    "or report the package named here to its vendor";

[[noreturn]] void refuse(const std::string& what) { throw Error(ExitCode::operation_failed, what, bad_bundle_hint); }

// The ULPs NVIDIA builds against the core (K ofed_scripts/dkms_build_ulps.sh; the RPM specs of DOCA 3.2.0).
const std::set<std::string>& known_ulps() {
  static const std::set<std::string> names{"iser",         "isert",        "srp",           "mlnx-nvme",   "mlnx-nfsrdma",
                                           "mlnx-nvme-rdma", "mlnx-nvmet-rdma", "mlnx-rdma-rxe", "virtiofs"};
  return names;
}

// Edges "a before b" over module indices, with reachability for cycle checks.
class Graph {
 public:
  explicit Graph(std::size_t size) : before_(size) {}
  void add(std::size_t first, std::size_t then) { before_[then].insert(first); }
  // Whether `to` is reachable from `from` following "must come first" edges.
  bool reaches(std::size_t from, std::size_t to) const {
    std::vector<bool> seen(before_.size());
    std::vector<std::size_t> stack{from};
    while (!stack.empty()) {
      auto at = stack.back();
      stack.pop_back();
      if (at == to) return true;
      if (seen[at]) continue;
      seen[at] = true;
      stack.insert(stack.end(), before_[at].begin(), before_[at].end());
    }
    return false;
  }
  const std::set<std::size_t>& firsts(std::size_t module) const { return before_[module]; }
  std::size_t size() const { return before_.size(); }

 private:
  std::vector<std::set<std::size_t>> before_;  // before_[b] = modules that come before b
};

// One cycle among the declared edges, as module indices, for the message.
std::vector<std::size_t> find_cycle(const Graph& graph) {
  std::vector<int> state(graph.size());  // 0 new, 1 on the path, 2 done
  std::vector<std::size_t> path;
  std::vector<std::size_t> cycle;
  std::function<bool(std::size_t)> visit = [&](std::size_t at) {
    state[at] = 1;
    path.push_back(at);
    for (auto first : graph.firsts(at)) {
      if (state[first] == 1) {
        cycle.assign(std::find(path.begin(), path.end(), first), path.end());
        return true;
      }
      if (state[first] == 0 && visit(first)) return true;
    }
    path.pop_back();
    state[at] = 2;
    return false;
  };
  for (std::size_t at = 0; at < graph.size(); ++at) {
    if (state[at] == 0 && visit(at)) break;
  }
  return cycle;
}

}  // namespace

bool is_ofed_core(const std::string& name) { return name == "mlnx-ofed-kernel" || name == "mlnx-ofa_kernel"; }

bool links_against_core(const BundleDkmsModule& module) {
  return !is_ofed_core(module.conf.name) && (module.links_core || known_ulps().count(module.conf.name) != 0);
}

DkmsBuildOrder dkms_build_order(std::vector<BundleDkmsModule> modules, const std::set<std::string>& elsewhere) {
  std::sort(modules.begin(), modules.end(), [](const auto& a, const auto& b) { return a.conf.name < b.conf.name; });
  std::map<std::string, std::size_t> index;
  std::optional<std::size_t> core;
  for (std::size_t i = 0; i < modules.size(); ++i) {
    const auto& conf = modules[i].conf;
    auto key = is_ofed_core(conf.name) ? std::string("mlnx-ofed-kernel") : conf.name;
    if (auto [at, added] = index.emplace(key, i); !added) {
      refuse(fmt::format("two packages carry the DKMS module {}: {} ({}) and {} ({})", conf.name, modules[at->second].package,
                         modules[at->second].conf.file, modules[i].package, conf.file));
    }
    if (is_ofed_core(conf.name)) core = i;
  }
  Graph graph(modules.size());
  for (std::size_t i = 0; i < modules.size(); ++i) {
    for (const auto& dependency : modules[i].conf.build_depends) {
      auto found = index.find(is_ofed_core(dependency) ? std::string("mlnx-ofed-kernel") : dependency);
      if (found != index.end()) {
        if (found->second != i) graph.add(found->second, i);
        continue;
      }
      bool registered = elsewhere.count(dependency) != 0 ||
                        (is_ofed_core(dependency) && (elsewhere.count("mlnx-ofed-kernel") + elsewhere.count("mlnx-ofa_kernel")) != 0);
      if (!registered) {
        refuse(fmt::format("{}: module {} has BUILD_DEPENDS on {}, which no package of the bundle builds", modules[i].conf.file,
                           modules[i].conf.name, dependency));
      }
    }
  }
  if (auto cycle = find_cycle(graph); !cycle.empty()) {
    std::vector<std::string> named;
    named.reserve(cycle.size());
    for (auto at : cycle) named.push_back(fmt::format("{} ({})", modules[at].conf.name, modules[at].conf.file));
    refuse(fmt::format("the BUILD_DEPENDS of DKMS modules form a cycle: {}", fmt::join(named, " -> ")));
  }
  if (core) {
    for (std::size_t i = 0; i < modules.size(); ++i) {
      if (i != *core && links_against_core(modules[i]) && !graph.reaches(*core, i)) graph.add(*core, i);
    }
  }
  // Kahn's algorithm, taking the first ready module by name each time; depth = longest path from a root.
  DkmsBuildOrder order;
  std::vector<int> depth(modules.size(), 0);
  std::vector<bool> placed(modules.size());
  for (std::size_t round = 0; round < modules.size(); ++round) {
    for (std::size_t i = 0; i < modules.size(); ++i) {
      if (placed[i]) continue;
      const auto& firsts = graph.firsts(i);
      if (std::all_of(firsts.begin(), firsts.end(), [&](std::size_t first) { return placed[first]; })) {
        for (auto first : firsts) depth[i] = std::max(depth[i], depth[first] + 1);
        placed[i] = true;
        order.modules.push_back(modules[i]);
        order.depth.push_back(depth[i]);
        break;
      }
    }
  }
  return order;
}

std::vector<std::vector<std::string>> install_transactions(const DkmsBuildOrder& order) {
  std::map<int, std::vector<std::string>> by_depth;
  std::map<std::string, int> package_depth;
  for (std::size_t i = 0; i < order.modules.size(); ++i) {
    // A package carrying modules of several depths goes with its deepest one.
    auto& depth = package_depth[order.modules[i].package];
    depth = std::max(depth, order.depth[i]);
  }
  for (const auto& [package, depth] : package_depth) by_depth[depth].push_back(package);
  std::vector<std::vector<std::string>> transactions;
  transactions.reserve(by_depth.size());
  for (auto& [depth, packages] : by_depth) transactions.push_back(std::move(packages));
  return transactions;
}

}  // namespace ibdriver::install
