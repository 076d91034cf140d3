// The soak: random small calls and occasional large ones on every backend from several
// threads for a given time, a sample of them checked against the reference backend,
// contexts and layers created and destroyed throughout. Prints one line of counts and
// the process's RSS every ten seconds; exits 1 on any failed call or mismatch.
//   mha_soak MINUTES
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "jobs.h"
#include "test_util.h"

namespace mha_test {
namespace {

using Clock = std::chrono::steady_clock;

struct Counts {
  std::atomic<int64_t> small{0}, large{0}, checked{0}, contexts{0}, failures{0};
};

int64_t RssKiB() {
  long pages = 0, resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

std::vector<std::string> Backends() {
  std::vector<std::string> names;
  for (const char* name : {"reference", "highway", "onednn"}) {
    if (mha_backend_available(name)) names.push_back(name);
  }
  return names;
}

// The largest difference allowed against the reference: f32 accumulation, or the
// rounding of bf16 inputs and products (docs/semantics.md).
bool Agree(const std::vector<float>& got, const std::vector<float>& want, mha_dtype dtype) {
  if (got.size() != want.size()) return false;
  const float tolerance = dtype == MHA_F32 ? 2e-4f : 3e-2f;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] == want[i]) continue;  // also the -inf lse of a row without keys
    if (!(std::fabs(got[i] - want[i]) <= tolerance * (1.0f + std::fabs(want[i])))) return false;
  }
  return true;
}

// One call chosen by rng: mostly small attention calls, some layers and linear layers,
// one large attention call in every thousand.
struct Drawn {
  mha_dtype dtype = MHA_F32;
  bool large = false;
  std::vector<float> Run(mha_context* ctx, uint64_t seed, std::mt19937_64& rng,
                         mha_status* status) {
    std::vector<float> result;
    const int kind = static_cast<int>(rng() % 1000);
    dtype = rng() % 3 == 0 ? MHA_BF16 : MHA_F32;
    large = kind == 0;
    if (kind < 900) {
      AttentionShape s;
      s.dtype = dtype;
      s.batch = 1 + int64_t(rng() % 3);
      s.num_kv_heads = 1 + int64_t(rng() % 2);
      s.num_heads = s.num_kv_heads * (1 + int64_t(rng() % 3));
      s.q_len = large ? 512 : 1 + int64_t(rng() % 24);
      s.kv_len = large ? 512 : 1 + int64_t(rng() % 40);
      s.head_dim = large ? 64 : 8 * (1 + int64_t(rng() % 8));
      s.causal = rng() % 2;
      s.kv_lens = rng() % 3 == 0;
      s.lse = rng() % 4 == 0;
      *status = AttentionJob(s, seed).Run(ctx, &result);
    } else if (kind < 950) {
      LayerShape s;
      s.weight_dtype = dtype;
      *status = LayerJob(s, seed).Run(ctx, &result);
    } else {
      LinearShape s;
      s.weight_dtype = dtype;
      *status = LinearJob(s, seed).Run(ctx, &result);
    }
    return result;
  }
};

void Worker(int id, Clock::time_point stop, const std::vector<std::string>& backends,
            Counts* counts) {
  std::mt19937_64 rng(1000 + id);
  ScopedContext reference(BackendOptions("reference"));
  while (Clock::now() < stop) {
    // A fresh context per round: handles and modules must not accumulate.
    const std::string& backend = backends[rng() % backends.size()];
    ScopedContext ctx(BackendOptions(backend.c_str()));
    counts->contexts++;
    if (!ctx.get() || !reference.get()) {
      std::fprintf(stderr, "soak: context %s: %s\n", backend.c_str(), mha_last_error());
      counts->failures++;
      return;
    }
    mha_context_set_num_threads(ctx.get(), 1 + int(rng() % 2));
    for (int call = 0; call < 200 && Clock::now() < stop; ++call) {
      const uint64_t seed = rng();
      const bool check = rng() % 100 == 0;
      std::mt19937_64 draw_rng(seed);
      Drawn drawn;
      mha_status status;
      const std::vector<float> got = drawn.Run(ctx.get(), seed, draw_rng, &status);
      (drawn.large ? counts->large : counts->small)++;
      if (status != MHA_OK) {
        std::fprintf(stderr, "soak: %s: %s\n", backend.c_str(), mha_last_error());
        counts->failures++;
        continue;
      }
      if (check) {
        std::mt19937_64 again(seed);
        Drawn reference_drawn;
        const std::vector<float> want = reference_drawn.Run(reference.get(), seed, again, &status);
        counts->checked++;
        if (status != MHA_OK || !Agree(got, want, drawn.dtype)) {
          std::fprintf(stderr, "soak: %s differs from the reference (seed %llu)\n",
                       backend.c_str(), static_cast<unsigned long long>(seed));
          counts->failures++;
        }
      }
    }
  }
}

}  // namespace
}  // namespace mha_test

int main(int argc, char** argv) {
  using namespace mha_test;
  const double minutes = argc > 1 ? std::atof(argv[1]) : 1.0;
  const std::vector<std::string> backends = Backends();
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop =
      start + std::chrono::milliseconds(static_cast<int64_t>(minutes * 60000));
  const int workers = std::max(2u, std::thread::hardware_concurrency());
  std::printf("soak: %.1f min, %d threads, backends:", minutes, workers);
  for (const std::string& b : backends) std::printf(" %s", b.c_str());
  std::printf("\n%8s %10s %8s %8s %8s %8s %10s\n", "seconds", "small", "large", "checked",
              "contexts", "failures", "rss_KiB");
  Counts counts;
  std::vector<std::thread> threads;
  for (int i = 0; i < workers; ++i) threads.emplace_back(Worker, i, stop, backends, &counts);
  auto report = [&] {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("%8.0f %10lld %8lld %8lld %8lld %8lld %10lld\n", seconds,
                static_cast<long long>(counts.small), static_cast<long long>(counts.large),
                static_cast<long long>(counts.checked), static_cast<long long>(counts.contexts),
                static_cast<long long>(counts.failures), static_cast<long long>(RssKiB()));
    std::fflush(stdout);
  };
  while (Clock::now() < stop) {
    std::this_thread::sleep_for(std::chrono::seconds(10));
    report();
  }
  for (std::thread& t : threads) t.join();
  report();
  return counts.failures == 0 ? 0 : 1;
}
