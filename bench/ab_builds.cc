// mha_ab_builds: two builds of libmha in one process (or one build at two ISA
// caps), their attention calls alternating on the same shape, so that both see
// the same machine at the same moment. On noisy machines (shared vCPUs, memory
// bandwidth that drifts by 20% within minutes) separate runs cannot resolve a 5%
// change; the median of the per-pair time ratios can.
//
//   mha_ab_builds OLD/libmha.so NEW/libmha.so [--dtype=bf16] [--batch=1]
//       [--heads=32] [--kv-heads=8] [--q-len=1] [--kv-len=4096] [--head-dim=128]
//       [--copies=32] [--calls=300] [--backend=highway] [--isa=native,avx2]
//
// Each call reads K/V from one of `copies` buffers (huge pages), a different one
// for each build: with enough copies both read from DRAM, with 2 both from
// cache where two copies fit it. Prints each build's median and 10th-percentile time and the quantiles
// of A's time over B's (> 1: B is faster). --isa caps A's and B's SIMD level
// (names as MHA_MAX_ISA's; the same library may be given twice); without it
// MHA_MAX_ISA applies to both, as OMP_NUM_THREADS does.
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "memory.h"
#include "shapes.h"
#include "workload.h"
#include "mha/mha.h"

namespace {

struct Options {
  const char* libs[2] = {nullptr, nullptr};
  std::string dtype = "bf16", backend = "highway";
  std::string isa[2];  // empty: from MHA_MAX_ISA
  int64_t batch = 1, heads = 32, kv_heads = 8, q_len = 1, kv_len = 4096, head_dim = 128;
  int copies = 32, calls = 300;
};

bool ParseInt(const char* arg, const char* name, int64_t* out) {
  const size_t len = std::strlen(name);
  if (std::strncmp(arg, name, len) != 0 || arg[len] != '=') return false;
  *out = std::atoll(arg + len + 1);
  return true;
}

bool Parse(int argc, char** argv, Options* o) {
  int libs = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    int64_t v = 0;
    if (std::strncmp(a, "--dtype=", 8) == 0) {
      o->dtype = a + 8;
    } else if (std::strncmp(a, "--backend=", 10) == 0) {
      o->backend = a + 10;
    } else if (std::strncmp(a, "--isa=", 6) == 0) {
      const char* comma = std::strchr(a + 6, ',');
      if (!comma) {
        std::fprintf(stderr, "%s: expected two ISA levels, A's and B's, as --isa=avx2,native\n", a);
        return false;
      }
      o->isa[0].assign(a + 6, comma);
      o->isa[1] = comma + 1;
    } else if (ParseInt(a, "--batch", &o->batch) || ParseInt(a, "--heads", &o->heads) ||
               ParseInt(a, "--kv-heads", &o->kv_heads) || ParseInt(a, "--q-len", &o->q_len) ||
               ParseInt(a, "--kv-len", &o->kv_len) || ParseInt(a, "--head-dim", &o->head_dim)) {
    } else if (ParseInt(a, "--copies", &v)) {
      o->copies = static_cast<int>(v);
    } else if (ParseInt(a, "--calls", &v)) {
      o->calls = static_cast<int>(v);
    } else if (a[0] != '-' && libs < 2) {
      o->libs[libs++] = a;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", a);
      return false;
    }
  }
  const bool ok = libs == 2 && (o->dtype == "f32" || o->dtype == "bf16") && o->copies >= 2 &&
                  o->calls >= 8;
  if (!ok) std::fprintf(stderr, "usage: see the top of bench/ab_builds.cc\n");
  return ok;
}

struct Build {
  decltype(&mha_context_options_init_size) options_init;
  decltype(&mha_context_create_with) create;
  decltype(&mha_isa_from_name) isa_from_name;
  decltype(&mha_context_destroy) destroy;
  decltype(&mha_attention) attention;
  decltype(&mha_last_error) last_error;
  mha_context* ctx = nullptr;
};

// RTLD_DEEPBIND: each build's calls to its own functions stay inside it.
bool Load(const char* path, const std::string& backend, const std::string& isa, Build* b) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
  if (!h) {
    std::fprintf(stderr, "%s\n", dlerror());
    return false;
  }
  b->options_init = reinterpret_cast<decltype(b->options_init)>(
      dlsym(h, "mha_context_options_init_size"));
  b->create = reinterpret_cast<decltype(b->create)>(dlsym(h, "mha_context_create_with"));
  b->isa_from_name = reinterpret_cast<decltype(b->isa_from_name)>(dlsym(h, "mha_isa_from_name"));
  b->destroy = reinterpret_cast<decltype(b->destroy)>(dlsym(h, "mha_context_destroy"));
  b->attention = reinterpret_cast<decltype(b->attention)>(dlsym(h, "mha_attention"));
  b->last_error = reinterpret_cast<decltype(b->last_error)>(dlsym(h, "mha_last_error"));
  if (!b->options_init || !b->create || !b->isa_from_name || !b->destroy || !b->attention ||
      !b->last_error) {
    std::fprintf(stderr, "%s lacks the C API\n", path);
    return false;
  }
  mha_context_options options;
  b->options_init(&options, sizeof options);
  options.backend = backend.c_str();
  if (!isa.empty()) {
    mha_isa level;
    if (b->isa_from_name(isa.c_str(), &level) != MHA_OK) {
      std::fprintf(stderr, "%s\n", b->last_error());
      return false;
    }
    options.max_isa = level;
  }
  if (b->create(&options, &b->ctx) != MHA_OK) {
    std::fprintf(stderr, "%s: %s\n", path, b->last_error());
    return false;
  }
  return true;
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!Parse(argc, argv, &o)) return 2;
  Build builds[2];
  for (int i = 0; i < 2; ++i) {
    if (!Load(o.libs[i], o.backend, o.isa[i], &builds[i])) return 1;
  }
  const mha_dtype dt = o.dtype == "bf16" ? MHA_BF16 : MHA_F32;
  const int64_t es = static_cast<int64_t>(mha_bench::DtypeBytes(dt)), d = o.head_dim;
  const int64_t q_elems = o.batch * o.q_len * o.heads * d;
  const int64_t kv_elems = o.batch * o.kv_len * o.kv_heads * d;
  auto q = mha_bench::AllocateTouched(static_cast<size_t>(q_elems * es));
  auto out = mha_bench::AllocateTouched(static_cast<size_t>(q_elems) * sizeof(float));
  std::vector<mha_bench::Buffer> k, v;
  for (int c = 0; c < o.copies; ++c) {
    k.push_back(mha_bench::AllocateTouched(static_cast<size_t>(kv_elems * es)));
    v.push_back(mha_bench::AllocateTouched(static_cast<size_t>(kv_elems * es)));
    if (!k.back() || !v.back()) {
      std::fprintf(stderr, "out of memory for %d copies\n", o.copies);
      return 1;
    }
    mha_bench::FillRandom(k.back().get(), dt, static_cast<size_t>(kv_elems), 2 * c + 2);
    mha_bench::FillRandom(v.back().get(), dt, static_cast<size_t>(kv_elems), 2 * c + 3);
  }
  mha_bench::FillRandom(q.get(), dt, static_cast<size_t>(q_elems), 1);
  const mha_tensor tq = mha_bench::Bshd(q.get(), dt, o.batch, o.q_len, o.heads, d);
  mha_tensor to = mha_bench::Bshd(out.get(), MHA_F32, o.batch, o.q_len, o.heads, d);
  mha_tensor tk = mha_bench::Bshd(nullptr, dt, o.batch, o.kv_len, o.kv_heads, d);
  mha_tensor tv = tk;

  std::vector<double> seconds[2], ratios;
  constexpr int kWarmup = 4;
  for (int call = 0; call < o.calls + kWarmup; ++call) {
    double t[2];
    for (int turn = 0; turn < 2; ++turn) {
      const int b = (call % 2 == 0) ? turn : 1 - turn;  // who goes first alternates
      const int copy = (call + b * (o.copies / 2)) % o.copies;
      tk.data = k[copy].get();
      tv.data = v[copy].get();
      const auto start = std::chrono::steady_clock::now();
      const mha_status s = builds[b].attention(builds[b].ctx, &tq, &tk, &tv, &to, nullptr);
      t[b] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (s != MHA_OK) {
        std::fprintf(stderr, "%s: %s\n", o.libs[b], builds[b].last_error());
        return 1;
      }
    }
    if (call < kWarmup) continue;
    seconds[0].push_back(t[0]);
    seconds[1].push_back(t[1]);
    ratios.push_back(t[0] / t[1]);
  }
  const double kv_bytes = 2.0 * static_cast<double>(kv_elems * es);
  for (int b = 0; b < 2; ++b) {
    const double med = Quantile(seconds[b], 0.5);
    std::printf("%c %-40s %-8s median %.4f ms  p10 %.4f ms  K/V %.1f GB/s\n", 'A' + b,
                o.libs[b], o.isa[b].c_str(), med * 1e3, Quantile(seconds[b], 0.1) * 1e3,
                kv_bytes / med / 1e9);
  }
  std::printf("A/B time ratio: median %.3f  p25 %.3f  p75 %.3f  (%zu pairs)\n",
              Quantile(ratios, 0.5), Quantile(ratios, 0.25), Quantile(ratios, 0.75),
              ratios.size());
  for (auto& b : builds) b.destroy(b.ctx);
  return 0;
}
