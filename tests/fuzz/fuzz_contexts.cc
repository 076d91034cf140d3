#include "fuzz_contexts.h"

#include <cstdio>
#include <cstdlib>

#include "findings.h"
#include "mha/kit/isa.h"

namespace mha_fuzz {
namespace {

mha_context* Create(const char* backend, int max_isa) {
  mha_context_options options;
  mha_context_options_init(&options);
  options.backend = backend;
  options.max_isa = max_isa;
  mha_context* ctx = nullptr;
  if (mha_context_create_with(&options, &ctx) != MHA_OK) {
    std::fprintf(stderr, "mha_fuzz: cannot create a %s context: %s\n", backend, mha_last_error());
    std::abort();
  }
  return ctx;
}

// A cap of another architecture than this library's, or a value that is no level, must
// be refused with MHA_ERR_INVALID_ARGUMENT, no context, and a message that names the
// levels of this architecture.
void CheckRefused(const char* backend, int max_isa) {
  mha_context_options options;
  mha_context_options_init(&options);
  options.backend = backend;
  options.max_isa = max_isa;
  mha_context* ctx = nullptr;
  const mha_status s = mha_context_create_with(&options, &ctx);
  const std::string message = mha_last_error();
  const std::string call =
      std::string(backend) + " context with max_isa=" + std::to_string(max_isa) + ": ";
  if (s != MHA_ERR_INVALID_ARGUMENT || ctx) {
    mha_context_destroy(ctx);
    Finding(call + "gave " + mha_status_name(s) + ", not a refusal");
  }
  for (const mha::IsaLevel& level : mha::kIsaLevels) {
    if (mha::IsaOfThisArch(level) && message.find(level.name) == std::string::npos) {
      Finding(call + "the message \"" + message + "\" does not name " + level.name);
    }
  }
}

struct Contexts {
  mha_context* reference;
  std::vector<NamedContext> highway;  // one per ISA level
  std::vector<NamedContext> others;
};

const Contexts& All() {
  static const Contexts* contexts = [] {
    auto* c = new Contexts;
    c->reference = Create("reference", MHA_FROM_ENVIRONMENT);
    for (int isa = MHA_ISA_SCALAR; isa <= MHA_ISA_SVE2 + 1; ++isa) {
      const mha::IsaLevel* level = mha::FindIsaLevel(isa);
      if (!level || !mha::IsaOfThisArch(*level)) {
        if (level && mha_isa_supported(level->isa)) {
          Finding(std::string("mha_isa_supported(") + level->name +
                  ") is 1 on another architecture");
        }
        CheckRefused("highway", isa);
        CheckRefused("reference", isa);
        continue;
      }
      if (!mha_isa_supported(static_cast<mha_isa>(isa))) continue;
      mha_context* ctx = Create("highway", isa);
      c->highway.push_back({std::string("highway:") + mha_context_isa(ctx), ctx});
    }
    for (int i = 0; i < mha_backend_count(); ++i) {
      const std::string name = mha_backend_name(i);
      if (name == "reference" || name == "highway" || !mha_backend_available(name.c_str())) {
        continue;
      }
      c->others.push_back({name, Create(name.c_str(), MHA_FROM_ENVIRONMENT)});
    }
    return c;
  }();
  return *contexts;
}

}  // namespace

mha_context* ReferenceContext() { return All().reference; }

std::vector<NamedContext> PickBackends(FuzzInput& in) {
  const Contexts& c = All();
  std::vector<NamedContext> picked = {c.highway[in.Byte() % c.highway.size()]};
  picked.insert(picked.end(), c.others.begin(), c.others.end());
  const int threads = 1 + in.Byte() % 2;
  for (const NamedContext& n : picked) mha_context_set_num_threads(n.ctx, threads);
  mha_context_set_num_threads(c.reference, threads);
  return picked;
}

}  // namespace mha_fuzz
