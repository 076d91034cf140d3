/* An outside program built against the installed mha: C99, warnings as errors.
 * Two keys, one query, scale 1: the output is the softmax-weighted mean of V. */
#include <math.h>
#include <stdio.h>

#include <mha/mha.h>

int main(void) {
  float q[2] = {1.0f, 0.0f};
  float k[4] = {1.0f, 0.0f, 0.0f, 1.0f};
  float v[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float out[2] = {0.0f, 0.0f};
  mha_tensor tq = {q, MHA_F32, {1, 1, 1, 2}, {2, 2, 2, 1}};
  mha_tensor tk = {k, MHA_F32, {1, 2, 1, 2}, {4, 2, 2, 1}};
  mha_tensor tv = {v, MHA_F32, {1, 2, 1, 2}, {4, 2, 2, 1}};
  mha_tensor to = {out, MHA_F32, {1, 1, 1, 2}, {2, 2, 2, 1}};
  mha_attention_desc desc;
  mha_context* ctx = NULL;
  double p0;
  mha_attention_desc_init(&desc);
  desc.scale = 1.0f;
  if (mha_context_create("auto", &ctx) != MHA_OK ||
      mha_attention(ctx, &tq, &tk, &tv, &to, &desc) != MHA_OK) {
    fprintf(stderr, "consumer: %s\n", mha_last_error());
    return 1;
  }
  p0 = exp(1.0) / (exp(1.0) + 1.0);
  if (fabs(out[0] - (p0 + 3.0 * (1.0 - p0))) > 1e-5 ||
      fabs(out[1] - (2.0 * p0 + 4.0 * (1.0 - p0))) > 1e-5) {
    fprintf(stderr, "consumer: wrong result %f %f\n", out[0], out[1]);
    return 1;
  }
  printf("consumer: mha %s, backend %s, ok\n", mha_version(), mha_context_backend(ctx));
  mha_context_destroy(ctx);
  return 0;
}
