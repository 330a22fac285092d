// warp_model.cpp — an Oclgrind plugin that reads a kernel's memory accesses as a GPU's
// memory system would see them (`make gpu-model`; Benchmarks/gpu-model/README.md).
//
// Oclgrind runs every work-item of a group in turn; this plugin regroups what they did:
// 32 consecutive local ids (x fastest) are a warp, and the n-th execution of one
// instruction by the lanes of a warp is one warp-level access (a SIMT machine runs them
// together). Per kernel invocation it writes one JSON line to $WARP_MODEL_OUT:
// * global loads and stores: useful bytes (distinct bytes the warp asked for) and the
//   32-byte sectors they touch;
// * __local accesses: bank-conflict ways on 32 banks of 4 bytes, in 128-byte phases (a
//   16-byte access serves 8 lanes per phase, an 8-byte one 16); distinct words of one
//   bank conflict, the same word is a broadcast;
// * the distinct 32-byte global sectors of the launch (its compulsory DRAM traffic);
// * barriers per work-group, floating multiplies (FMAs: one per lane of an fmul, fma,
//   mad or fmuladd), instructions per item;
// * item activity: per barrier interval, the work items did (floating-point and memory
//   instructions) over what the busiest item did, summed over intervals; the same for
//   exp/exp2/tanh calls only (the softmax or sigmoid step).
// The plugin says it is not thread-safe, so Oclgrind runs one work-group at a time.
#include "core/Context.h"
#include "core/Kernel.h"
#include "core/KernelInvocation.h"
#include "core/Memory.h"
#include "core/Plugin.h"
#include "core/Program.h"
#include "core/WorkGroup.h"
#include "core/WorkItem.h"

#include "llvm/IR/Function.h"
#include "llvm/IR/Instructions.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

using namespace oclgrind;

namespace
{
constexpr size_t warpSize = 32;
constexpr size_t sectorBytes = 32;
constexpr size_t banks = 32;
constexpr size_t phaseBytes = 128;

struct Access
{
  size_t lane, address, size;
};

// One warp-level instruction: which warp, which instruction, its n-th execution.
struct WarpKey
{
  size_t warp;
  const llvm::Instruction* instruction;
  size_t occurrence;
  bool operator==(const WarpKey& o) const
  {
    return warp == o.warp && instruction == o.instruction &&
           occurrence == o.occurrence;
  }
};
struct WarpKeyHash
{
  size_t operator()(const WarpKey& k) const
  {
    return std::hash<const void*>()(k.instruction) ^
           (k.warp * 0x9E3779B97F4A7C15ull) ^ (k.occurrence << 20);
  }
};

struct Traffic // global loads or stores
{
  double warpAccesses = 0, itemAccesses = 0, usefulBytes = 0, sectorBytes = 0;
};
struct Banked // __local loads or stores
{
  double warpAccesses = 0, itemAccesses = 0, bytes = 0, ways = 0, worst = 0;
};

struct Totals
{
  Traffic globalLoad, globalStore;
  Banked localLoad, localStore;
  double groups = 0, barriers = 0, fma = 0, instructions = 0;
  double work = 0, workSlots = 0, exps = 0, expSlots = 0;
  // Distinct 32-byte sectors of global memory over the launch: its compulsory traffic
  // (what must come from DRAM if the cache holds the rest).
  std::unordered_set<size_t> distinctSectors;
};

class WarpModel : public Plugin
{
public:
  WarpModel(const Context* context) : Plugin(context)
  {
    const char* path = getenv("WARP_MODEL_OUT");
    m_path = path ? path : "warp-model.jsonl";
  }

  bool isThreadSafe() const override { return false; }

  void kernelBegin(const KernelInvocation* invocation) override
  {
    m_totals = Totals();
    m_invocation = invocation;
  }

  void kernelEnd(const KernelInvocation* invocation) override
  {
    const Kernel* kernel = invocation->getKernel();
    std::ofstream out(m_path, std::ios::app);
    out.precision(10);
    Size3 global = invocation->getGlobalSize(), local = invocation->getLocalSize();
    const Totals& t = m_totals;
    out << "{\"record\":\"warp-model\",\"kernel\":\"" << kernel->getName()
        << "\",\"options\":\"" << escaped(kernel->getProgram()->getBuildOptions())
        << "\",\"global\":[" << global.x << "," << global.y << "," << global.z
        << "],\"local\":[" << local.x << "," << local.y << "," << local.z
        << "],\"groups\":" << t.groups << ",\"barriers\":" << t.barriers
        << ",\"fma\":" << t.fma << ",\"instructions\":" << t.instructions
        << ",\"active\":" << ratio(t.work, t.workSlots)
        << ",\"exp_active\":" << ratio(t.exps, t.expSlots)
        << ",\"exp_calls\":" << t.exps
        << ",\"global_distinct_bytes\":" << t.distinctSectors.size() * sectorBytes;
    traffic(out, "global_load", t.globalLoad);
    traffic(out, "global_store", t.globalStore);
    banked(out, "local_load", t.localLoad);
    banked(out, "local_store", t.localStore);
    out << "}\n";
  }

  void workGroupBegin(const WorkGroup* group) override
  {
    Size3 size = group->getGroupSize();
    m_groupItems = size.x * size.y * size.z;
    m_occurrences.assign(m_groupItems, {});
    m_accesses.clear();
    m_totals.groups += 1;
    startInterval();
  }

  void workGroupBarrier(const WorkGroup*, uint32_t) override
  {
    m_totals.barriers += 1;
    closeInterval();
    startInterval();
  }

  void workGroupComplete(const WorkGroup*) override
  {
    closeInterval();
    for (auto& entry : m_accesses)
      account(entry.first, entry.second);
    m_accesses.clear();
  }

  void instructionExecuted(const WorkItem* item, const llvm::Instruction* inst,
                           const TypedValue&) override
  {
    size_t lane = laneOf(item);
    m_occurrences[lane][inst] += 1;
    m_totals.instructions += 1;
    unsigned lanes = lanesOf(inst);
    bool work = isa<llvm::LoadInst>(inst) || isa<llvm::StoreInst>(inst);
    switch (inst->getOpcode())
    {
    case llvm::Instruction::FMul:
      m_totals.fma += lanes;
      work = true;
      break;
    case llvm::Instruction::FAdd:
    case llvm::Instruction::FSub:
    case llvm::Instruction::FDiv:
    case llvm::Instruction::FCmp:
      work = true;
      break;
    case llvm::Instruction::Call:
    {
      std::string name = calleeName(inst);
      if (contains(name, "fma") || contains(name, "mad") ||
          contains(name, "fmuladd"))
        m_totals.fma += lanes;
      if (contains(name, "exp") || contains(name, "tanh"))
        m_intervalExps[lane] += 1;
      work = work || !name.empty();
      break;
    }
    default:
      break;
    }
    if (work)
      m_intervalWork[lane] += 1;
  }

  void memoryLoad(const Memory* memory, const WorkItem* item, size_t address,
                  size_t size) override
  {
    record(memory, item, address, size, false);
  }

  void memoryStore(const Memory* memory, const WorkItem* item, size_t address,
                   size_t size, const uint8_t*) override
  {
    record(memory, item, address, size, true);
  }

private:
  struct Recorded
  {
    unsigned space;
    bool store;
    std::vector<Access> accesses;
  };

  std::string m_path;
  const KernelInvocation* m_invocation = nullptr;
  Totals m_totals;
  size_t m_groupItems = 0;
  std::vector<std::unordered_map<const llvm::Instruction*, size_t>> m_occurrences;
  std::unordered_map<WarpKey, Recorded, WarpKeyHash> m_accesses;
  std::vector<double> m_intervalWork, m_intervalExps;

  template <typename T> static bool isa(const llvm::Instruction* i)
  {
    return llvm::isa<T>(i);
  }
  static bool contains(const std::string& s, const char* part)
  {
    return s.find(part) != std::string::npos;
  }
  static double ratio(double a, double b) { return b > 0 ? a / b : 0; }

  static std::string escaped(const std::string& s)
  {
    std::string out;
    for (char c : s)
    {
      if (c == '"' || c == '\\')
        out += '\\';
      out += (c == '\n' || c == '\t') ? ' ' : c;
    }
    return out;
  }

  static std::string calleeName(const llvm::Instruction* inst)
  {
    const llvm::Function* f = llvm::cast<llvm::CallInst>(inst)->getCalledFunction();
    return f ? f->getName().str() : std::string();
  }

  static unsigned lanesOf(const llvm::Instruction* inst)
  {
    if (auto* v = llvm::dyn_cast<llvm::FixedVectorType>(inst->getType()))
      return v->getNumElements();
    return 1;
  }

  size_t laneOf(const WorkItem* item) const
  {
    Size3 id = item->getLocalID();
    Size3 size = item->getWorkGroup()->getGroupSize();
    return id.x + size.x * (id.y + size.y * id.z);
  }

  void startInterval()
  {
    m_intervalWork.assign(m_groupItems, 0);
    m_intervalExps.assign(m_groupItems, 0);
  }

  // Items' work in one barrier interval, against the busiest item's.
  void closeInterval()
  {
    accumulate(m_intervalWork, m_totals.work, m_totals.workSlots);
    accumulate(m_intervalExps, m_totals.exps, m_totals.expSlots);
  }
  void accumulate(const std::vector<double>& perItem, double& done, double& slots)
  {
    if (perItem.empty())
      return;
    double sum = 0, most = 0;
    for (double w : perItem)
    {
      sum += w;
      most = std::max(most, w);
    }
    done += sum;
    slots += most * perItem.size();
  }

  void record(const Memory* memory, const WorkItem* item, size_t address,
              size_t size, bool store)
  {
    unsigned space = memory->getAddressSpace();
    if (space != AddrSpaceGlobal && space != AddrSpaceLocal)
      return;
    size_t lane = laneOf(item);
    const llvm::Instruction* inst = item->getCurrentInstruction();
    size_t occurrence = 0;
    auto found = m_occurrences[lane].find(inst);
    if (found != m_occurrences[lane].end())
      occurrence = found->second;
    Recorded& r = m_accesses[WarpKey{lane / warpSize, inst, occurrence}];
    r.space = space;
    r.store = store;
    r.accesses.push_back(Access{lane % warpSize, address, size});
  }

  void account(const WarpKey&, const Recorded& r)
  {
    if (r.space == AddrSpaceGlobal)
    {
      Traffic& t = r.store ? m_totals.globalStore : m_totals.globalLoad;
      std::unordered_set<size_t> bytes, sectors;
      for (const Access& a : r.accesses)
        for (size_t b = a.address; b < a.address + a.size; ++b)
        {
          bytes.insert(b);
          sectors.insert(b / sectorBytes);
        }
      m_totals.distinctSectors.insert(sectors.begin(), sectors.end());
      t.warpAccesses += 1;
      t.itemAccesses += r.accesses.size();
      t.usefulBytes += bytes.size();
      t.sectorBytes += sectors.size() * sectorBytes;
      return;
    }
    Banked& b = r.store ? m_totals.localStore : m_totals.localLoad;
    // Lanes are served in 128-byte phases: 32 lanes of 4 bytes, 8 lanes of 16 bytes.
    size_t width = std::max<size_t>(r.accesses.front().size, 4);
    size_t lanesPerPhase = std::max<size_t>(1, phaseBytes / width);
    std::vector<std::vector<std::unordered_set<size_t>>> phases(
      warpSize / lanesPerPhase + 1,
      std::vector<std::unordered_set<size_t>>(banks));
    std::vector<bool> used(phases.size(), false);
    for (const Access& a : r.accesses)
    {
      size_t phase = a.lane / lanesPerPhase;
      used[phase] = true;
      for (size_t w = a.address / 4; w < (a.address + a.size + 3) / 4; ++w)
        phases[phase][w % banks].insert(w);
    }
    double ways = 0, count = 0;
    for (size_t p = 0; p < phases.size(); ++p)
    {
      if (!used[p])
        continue;
      size_t most = 1;
      for (auto& words : phases[p])
        most = std::max(most, words.size());
      ways += most;
      count += 1;
    }
    double degree = ways / count;
    b.warpAccesses += 1;
    b.itemAccesses += r.accesses.size();
    for (const Access& a : r.accesses)
      b.bytes += a.size;
    b.ways += degree;
    b.worst = std::max(b.worst, degree);
  }

  static void traffic(std::ofstream& out, const char* name, const Traffic& t)
  {
    out << ",\"" << name << "\":{\"warp_accesses\":" << t.warpAccesses
        << ",\"item_accesses\":" << t.itemAccesses
        << ",\"useful_bytes\":" << t.usefulBytes
        << ",\"sector_bytes\":" << t.sectorBytes
        << ",\"efficiency\":" << ratio(t.usefulBytes, t.sectorBytes) << "}";
  }

  static void banked(std::ofstream& out, const char* name, const Banked& b)
  {
    out << ",\"" << name << "\":{\"warp_accesses\":" << b.warpAccesses
        << ",\"item_accesses\":" << b.itemAccesses
        << ",\"bytes\":" << b.bytes << ",\"ways_mean\":" << ratio(b.ways, b.warpAccesses)
        << ",\"ways_worst\":" << b.worst << "}";
  }
};

WarpModel* plugin = nullptr;
} // namespace

extern "C" void initializePlugins(Context* context)
{
  plugin = new WarpModel(context);
  context->registerPlugin(plugin);
}

extern "C" void releasePlugins(Context* context)
{
  context->unregisterPlugin(plugin);
  delete plugin;
  plugin = nullptr;
}
