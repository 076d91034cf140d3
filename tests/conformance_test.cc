// The default backend (`auto`) against the reference over the random grid. Each
// backend's own tests run the grid on that backend alone; this one checks what a
// user gets without choosing, and the conformance helper itself.
#include <catch2/catch.hpp>

#include "conformance.h"
#include "test_util.h"

namespace mha_test {
namespace {

TEST_CASE("auto matches the reference on random problems", "[conformance]") {
  ScopedContext ctx("auto");
  REQUIRE(ctx.status() == MHA_OK);
  const std::vector<int64_t> head_dims = {1, 7, 16, 40, 64, 80, 96, 128, 256};
  for (const Case& c : RandomCases(/*seed=*/2024, /*count=*/150, /*max_len=*/300, head_dims)) {
    CheckAgainstReference(ctx.get(), c);
  }
}

}  // namespace
}  // namespace mha_test
