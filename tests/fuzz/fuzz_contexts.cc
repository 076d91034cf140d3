#include "fuzz_contexts.h"

#include <cstdio>
#include <cstdlib>

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

struct Contexts {
  mha_context* reference;
  std::vector<NamedContext> highway;  // one per ISA level
  std::vector<NamedContext> others;
};

const Contexts& All() {
  static const Contexts* contexts = [] {
    auto* c = new Contexts;
    c->reference = Create("reference", MHA_FROM_ENVIRONMENT);
    for (int isa = MHA_ISA_SCALAR; isa <= MHA_ISA_NATIVE; ++isa) {
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
