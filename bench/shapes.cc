#include "shapes.h"

#include <algorithm>
#include <cstdio>

namespace mha_bench {

const std::vector<Shape>& StandardShapes() {
  static const std::vector<Shape> shapes = {
      // id              B  Hq Hkv    Lq     Lk    D  causal decode
      {"tiny",           1,  8,  8,   128,   128,  64, false, false},
      {"bert",           8, 12, 12,   512,   512,  64, false, false},
      {"prefill",        1, 32, 32,  2048,  2048, 128, false, false},
      {"prefill-causal", 1, 32,  8,  2048,  2048, 128, true,  false},
      {"decode",         1, 32,  8,     1,  4096, 128, false, true},
      {"decode-batch",  16, 32,  8,     1,  2048, 128, false, true},
      {"long",           1,  8,  8, 16384, 16384,  64, true,  false},
  };
  return shapes;
}

const std::vector<Shape>& QuickShapes() {
  static const std::vector<Shape> shapes = {
      {"tiny",        1, 8, 8, 128,  128, 64, false, false},
      {"tiny-causal", 1, 8, 2, 128,  128, 64, true,  false},
      {"tiny-decode", 1, 8, 2,   1, 1024, 64, false, true},
  };
  return shapes;
}

namespace {

std::string ShapeListJson(const std::vector<Shape>& shapes) {
  std::string json = "[";
  for (const Shape& s : shapes) {
    char line[320];
    std::snprintf(line, sizeof line,
                  "%s\n  {\"id\": \"%s\", \"batch\": %lld, \"num_heads\": %lld, "
                  "\"num_kv_heads\": %lld, \"q_len\": %lld, \"kv_len\": %lld, "
                  "\"head_dim\": %lld, \"causal\": %s, \"decode\": %s, \"flops\": %.0f}",
                  json.size() > 1 ? "," : "", s.id, static_cast<long long>(s.batch),
                  static_cast<long long>(s.num_heads), static_cast<long long>(s.num_kv_heads),
                  static_cast<long long>(s.q_len), static_cast<long long>(s.kv_len),
                  static_cast<long long>(s.head_dim), s.causal ? "true" : "false",
                  s.decode ? "true" : "false", Flops(s));
    json += line;
  }
  return json + "]";
}

}  // namespace

std::string ShapesJson() {
  return "{\"standard\": " + ShapeListJson(StandardShapes()) +
         ",\n\"quick\": " + ShapeListJson(QuickShapes()) + "}\n";
}

int64_t VisiblePairs(const Shape& s) {
  if (!s.causal) return s.q_len * s.kv_len;
  int64_t pairs = 0;
  for (int64_t i = 0; i < s.q_len; ++i) {
    pairs += std::min(s.kv_len, std::max<int64_t>(0, i + s.kv_len - s.q_len + 1));
  }
  return pairs;
}

double Flops(const Shape& s) {
  return 4.0 * static_cast<double>(s.batch * s.num_heads * s.head_dim) *
         static_cast<double>(VisiblePairs(s));
}

const std::vector<Precision>& Precisions() {
  static const std::vector<Precision> precisions = {
      {"f32", MHA_F32, MHA_F32, MHA_F32},
      {"bf16", MHA_BF16, MHA_BF16, MHA_BF16},
      {"f32q-bf16kv", MHA_F32, MHA_BF16, MHA_F32},
  };
  return precisions;
}

size_t DtypeBytes(mha_dtype dtype) { return dtype == MHA_F32 ? 4 : 2; }

double KvBytes(const Shape& s, const Precision& p) {
  return 2.0 * static_cast<double>(s.batch * s.kv_len * s.num_kv_heads * s.head_dim) *
         static_cast<double>(DtypeBytes(p.kv));
}

}  // namespace mha_bench
