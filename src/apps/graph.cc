// The dependency graph of an app: which widgets a widget's prompt names, cycles, and the waves
// in which a run executes the widgets.
#include <algorithm>
#include <functional>

#include "apps/definition.h"
#include "apps/internal.h"

namespace basalt::apps {
namespace {

bool Runs(const std::string& type) { return internal::HasPrompt(type); }

// The wave of every widget that runs: 0 for one that needs no other running widget, else one
// more than the latest wave among the running widgets it references. Inputs, static texts and
// documents have their values already and have no references of their own. A cycle (which
// Validate refuses) is cut where the walk meets it, so this always ends.
std::map<std::string, int> WaveIndex(const AppDefinition& def,
                                     const std::map<std::string, std::set<std::string>>& deps) {
  std::map<std::string, int> index;
  std::set<std::string> visiting;
  std::function<int(const std::string&)> level = [&](const std::string& id) -> int {
    if (auto it = index.find(id); it != index.end()) return it->second;
    if (!visiting.insert(id).second) return -1;
    int wave = 0;
    if (auto it = deps.find(id); it != deps.end()) {
      for (const std::string& dep : it->second) {
        const Widget* w = internal::FindWidget(def, dep);
        if (w != nullptr && Runs(w->type)) wave = std::max(wave, level(dep) + 1);
      }
    }
    visiting.erase(id);
    index[id] = wave;
    return wave;
  };
  for (const Widget& w : def.widgets) {
    if (Runs(w.type)) level(w.id);
  }
  return index;
}

std::vector<std::vector<std::string>> ToWaves(const AppDefinition& def,
                                              const std::map<std::string, int>& index,
                                              const std::set<std::string>* only) {
  std::vector<std::vector<std::string>> waves;
  for (const Widget& w : def.widgets) {
    if (!Runs(w.type) || (only != nullptr && !only->contains(w.id))) continue;
    const size_t wave = static_cast<size_t>(index.at(w.id));
    if (waves.size() <= wave) waves.resize(wave + 1);
    waves[wave].push_back(w.id);
  }
  std::erase_if(waves, [](const std::vector<std::string>& wave) { return wave.empty(); });
  return waves;
}

}  // namespace

namespace internal {

std::vector<std::string> FindCycle(const AppDefinition& def) {
  const auto deps = Dependencies(def);
  std::map<std::string, int> state;  // 1 = on the current path, 2 = done
  std::vector<std::string> path;
  std::vector<std::string> cycle;
  std::function<bool(const std::string&)> visit = [&](const std::string& id) -> bool {
    state[id] = 1;
    path.push_back(id);
    for (const std::string& dep : deps.at(id)) {
      if (state[dep] == 1) {
        auto start = std::find(path.begin(), path.end(), dep);
        cycle.assign(start, path.end());
        cycle.push_back(dep);
        return true;
      }
      if (state[dep] == 0 && visit(dep)) return true;
    }
    path.pop_back();
    state[id] = 2;
    return false;
  };
  for (const Widget& w : def.widgets) {
    if (state[w.id] == 0 && visit(w.id)) return cycle;
  }
  return {};
}

}  // namespace internal

std::map<std::string, std::set<std::string>> Dependencies(const AppDefinition& def) {
  std::map<std::string, std::set<std::string>> deps;
  for (const Widget& w : def.widgets) {
    auto& mine = deps[w.id];
    if (!internal::HasPrompt(w.type)) continue;
    for (const Reference& ref : FindReferences(w.prompt, def)) {
      if (!ref.widget_id.empty()) mine.insert(ref.widget_id);
    }
  }
  return deps;
}

std::vector<std::vector<std::string>> RunWaves(const AppDefinition& def) {
  return ToWaves(def, WaveIndex(def, Dependencies(def)), nullptr);
}

std::vector<std::vector<std::string>> AffectedWaves(const AppDefinition& def,
                                                    const std::set<std::string>& changed) {
  const auto deps = Dependencies(def);
  // Reverse edges, then everything reachable from `changed`.
  std::map<std::string, std::set<std::string>> dependents;
  for (const auto& [id, needs] : deps) {
    for (const std::string& dep : needs) dependents[dep].insert(id);
  }
  std::set<std::string> affected;
  std::vector<std::string> todo(changed.begin(), changed.end());
  while (!todo.empty()) {
    const std::string id = todo.back();
    todo.pop_back();
    for (const std::string& next : dependents[id]) {
      if (affected.insert(next).second) todo.push_back(next);
    }
  }
  return ToWaves(def, WaveIndex(def, deps), &affected);
}

}  // namespace basalt::apps
