// The few oneDNN calls whose shape differs between major versions, in one place.
// 2.x (what CI builds, Debian 12's 2.6.3) creates primitive descriptors from op
// descriptors and fuses the scale with output scales. 3.x dropped op descriptors
// (primitive_desc(engine, mds..., attr)) and output scales (per-argument scales given
// as a memory at execution). The 3.x branch is compiled against oneDNN 3.0.1 and
// 3.7.1 headers by check_onednn3.sh.
#ifndef MHA_BACKENDS_ONEDNN_DNNL_COMPAT_H_
#define MHA_BACKENDS_ONEDNN_DNNL_COMPAT_H_

#include <oneapi/dnnl/dnnl.hpp>

namespace mha {
namespace onednn {

// No ISA cap: 2.x calls it `all`, 3.x `isa_default`.
#if DNNL_VERSION_MAJOR >= 3
constexpr dnnl::cpu_isa kCpuIsaNoCap = dnnl::cpu_isa::isa_default;
#else
constexpr dnnl::cpu_isa kCpuIsaNoCap = dnnl::cpu_isa::all;
#endif

// dst = softcap * tanh(scale * src x weights / softcap), or scale * src x weights
// when softcap is 0, added to dst when `accumulate` (with scale 1, softcap 0 only);
// the scratchpad is supplied by the caller.
inline dnnl::matmul::primitive_desc MakeMatmulPd(const dnnl::engine& engine,
                                                 const dnnl::memory::desc& src,
                                                 const dnnl::memory::desc& weights,
                                                 const dnnl::memory::desc& dst, float scale,
                                                 float softcap, bool accumulate = false) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::post_ops ops;
  if (accumulate) ops.append_sum(1.0f);
#if DNNL_VERSION_MAJOR >= 3
  // 3.x: no output scales; a linear post-op carries the scale (alpha) instead.
  const float pre_scale = softcap > 0 ? scale / softcap : scale;
  if (pre_scale != 1.0f) {
    ops.append_eltwise(dnnl::algorithm::eltwise_linear, pre_scale, 0.0f);
  }
  if (softcap > 0) {
    ops.append_eltwise(dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
    ops.append_eltwise(dnnl::algorithm::eltwise_linear, softcap, 0.0f);
  }
  attr.set_post_ops(ops);
  return dnnl::matmul::primitive_desc(engine, src, weights, dst, attr);
#else
  // 1/softcap goes into the output scale and softcap into the eltwise's own scale:
  // 2.6's gemm:jit applied a chain linear-tanh-linear wrongly (checked numerically).
  const float pre_scale = softcap > 0 ? scale / softcap : scale;
  if (pre_scale != 1.0f) attr.set_output_scales(0, {pre_scale});
  if (softcap > 0) ops.append_eltwise(softcap, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
  attr.set_post_ops(ops);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, dst), attr, engine);
#endif
}

// Row-wise softmax over the last axis of a 2-D src into dst (may differ in dtype).
#if DNNL_VERSION_MAJOR >= 3
using SoftmaxPd = dnnl::softmax_forward::primitive_desc;
#else
using SoftmaxPd = dnnl::softmax_v2_forward::primitive_desc;
#endif

inline SoftmaxPd MakeSoftmaxPd(const dnnl::engine& engine, const dnnl::memory::desc& src,
                               const dnnl::memory::desc& dst) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
#if DNNL_VERSION_MAJOR >= 3
  return SoftmaxPd(engine, dnnl::prop_kind::forward_inference, dnnl::algorithm::softmax_accurate,
                   src, dst, 1, attr);
#else
  return SoftmaxPd(dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference,
                                                  dnnl::algorithm::softmax_accurate, src, dst, 1),
                   attr, engine);
#endif
}

}  // namespace onednn
}  // namespace mha

#endif  // MHA_BACKENDS_ONEDNN_DNNL_COMPAT_H_
