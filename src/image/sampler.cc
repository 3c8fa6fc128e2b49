// SCAFFOLD: to be written by its owner (see /tmp/h/images-contract.md).
#include "image/sampler.h"

namespace basalt::image {
StatusOr<SigmaSchedule> MakeSchedule(const SchedulerConfig&, Sampler, int) {
  return Status::Internal("todo");
}
StatusOr<at::Tensor> Sample(Sampler, const SigmaSchedule&, const at::Tensor&, const Denoiser&,
                            at::Generator, const std::function<bool()>&,
                            const std::function<void(int)>&) {
  return Status::Internal("todo");
}
}  // namespace basalt::image
