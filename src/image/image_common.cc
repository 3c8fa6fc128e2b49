// What every build has, libtorch or not: the sampler names the API parses.
#include "image/image.h"

namespace basalt::image {

StatusOr<Sampler> ParseSampler(const std::string& name) {
  if (name == "euler") return Sampler::kEuler;
  if (name == "euler_a") return Sampler::kEulerAncestral;
  if (name == "dpmpp_2m_karras") return Sampler::kDpmpp2mKarras;
  return Status::InvalidArgument("unknown sampler '" + name +
                                 "' (expected euler, euler_a or dpmpp_2m_karras)");
}

const char* SamplerName(Sampler sampler) {
  switch (sampler) {
    case Sampler::kEuler:
      return "euler";
    case Sampler::kEulerAncestral:
      return "euler_a";
    case Sampler::kDpmpp2mKarras:
      return "dpmpp_2m_karras";
    case Sampler::kDefault:
      break;
  }
  return "default";
}

}  // namespace basalt::image
