// Schedules and samplers against tests/image/ref/sampler.py (diffusers' schedulers written
// independently in Python: the DPM-Solver++ reference runs in the variance-preserving space as
// diffusers does, the C++ in k-diffusion's form).
#include "image/sampler.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "image/pipeline_test_util.h"

namespace basalt::image {
namespace {

using testing::ReadTensors;
using testing::RunRef;
using testing::ShellQuote;

struct Case {
  std::string name;
  SchedulerConfig config;
  std::string json;
};

std::vector<Case> Configs() {
  std::vector<Case> cases;
  SchedulerConfig sd;  // SD 1.5 / 2.1-base: scaled_linear, leading, steps_offset 1
  cases.push_back({"leading", sd,
                   R"({"num_train_timesteps":1000,"beta_start":0.00085,"beta_end":0.012,)"
                   R"("beta_schedule":"scaled_linear","timestep_spacing":"leading",)"
                   R"("steps_offset":1,"prediction_type":"epsilon"})"});
  SchedulerConfig turbo = sd;
  turbo.timestep_spacing = "trailing";
  turbo.steps_offset = 0;
  cases.push_back({"trailing", turbo,
                   R"({"num_train_timesteps":1000,"beta_start":0.00085,"beta_end":0.012,)"
                   R"("beta_schedule":"scaled_linear","timestep_spacing":"trailing",)"
                   R"("steps_offset":0,"prediction_type":"epsilon"})"});
  SchedulerConfig lin = sd;
  lin.timestep_spacing = "linspace";
  lin.beta_schedule = "linear";
  lin.beta_start = 0.0001f;
  lin.beta_end = 0.02f;
  lin.prediction_type = "v_prediction";
  cases.push_back({"linspace_linear_v", lin,
                   R"({"num_train_timesteps":1000,"beta_start":0.0001,"beta_end":0.02,)"
                   R"("beta_schedule":"linear","timestep_spacing":"linspace",)"
                   R"("steps_offset":1,"prediction_type":"v_prediction"})"});
  return cases;
}

const std::vector<int> kSteps = {1, 2, 3, 4, 7, 20, 25, 50, 150};

// The denoiser that tests/image/ref/sampler.py's analytic_model stands for.
Denoiser Analytic(const std::string& prediction_type) {
  return [prediction_type](const at::Tensor& x, double sigma, double t) {
    const at::Tensor in = x * InputScale(sigma);
    const at::Tensor out =
        at::tanh(in) * 0.5 + at::sin(in * 2.0 + static_cast<float>(t) / 250.0f) * 0.3;
    return DenoisedFromModelOutput(prediction_type, x, out, sigma);
  };
}

// One reference run per config covers the three samplers and every step count.
TEST(SamplerRefTest, SchedulesAndSamplesMatchTheReference) {
  if (!testing::PythonHasTorch()) GTEST_SKIP() << "python3 cannot import torch";
  const std::vector<Sampler> samplers = {Sampler::kEuler, Sampler::kEulerAncestral,
                                         Sampler::kDpmpp2mKarras};
  std::string steps_arg, samplers_arg;
  for (int s : kSteps) steps_arg += (steps_arg.empty() ? "" : ",") + std::to_string(s);
  for (Sampler s : samplers)
    samplers_arg += (samplers_arg.empty() ? "" : ",") + std::string(SamplerName(s));
  const std::string dir = testing::TempDir("sampler");
  for (const Case& c : Configs()) {
    SCOPED_TRACE(c.name);
    const std::string out = dir + "/" + c.name + ".safetensors";
    ASSERT_TRUE(RunRef("sampler --out " + ShellQuote(out) + " --config " + ShellQuote(c.json) +
                       " --sampler " + samplers_arg + " --steps " + steps_arg +
                       " --shape 1,4,8,8 --seed 42"));
    auto ref = ReadTensors(out);
    for (Sampler sampler : samplers) {
      for (int steps : kSteps) {
        SCOPED_TRACE(std::string(SamplerName(sampler)) + " steps " + std::to_string(steps));
        auto key = [&](const std::string& what) {
          return std::string(SamplerName(sampler)) + "_" + what + "_" + std::to_string(steps);
        };
        auto schedule = MakeSchedule(c.config, sampler, steps);
        ASSERT_TRUE(schedule.ok()) << schedule.status().ToString();
        const at::Tensor sig = ref[key("sigmas")];
        const at::Tensor ts = ref[key("timesteps")];
        ASSERT_TRUE(sig.defined() && ts.defined());
        ASSERT_EQ(schedule->sigmas.size(), static_cast<size_t>(sig.numel()));
        ASSERT_EQ(schedule->timesteps.size(), static_cast<size_t>(ts.numel()));
        for (int i = 0; i < sig.numel(); ++i) {
          const double want = sig[i].item<double>();
          EXPECT_NEAR(schedule->sigmas[i], want, 1e-6 * std::abs(want)) << "sigma " << i;
        }
        for (int i = 0; i < ts.numel(); ++i) {
          EXPECT_NEAR(schedule->timesteps[i], ts[i].item<double>(), 1e-4) << "timestep " << i;
        }
        const double init = ref[key("init")][0].item<double>();
        EXPECT_NEAR(schedule->init_noise_sigma, init, 1e-6 * init);

        // The same seed drives the starting noise and the ancestral noise, as in the pipeline.
        at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(42);
        const at::Tensor noise = at::randn({1, 4, 8, 8}, gen, at::TensorOptions(at::kFloat));
        auto x =
            Sample(sampler, *schedule, noise, Analytic(c.config.prediction_type), gen, nullptr);
        ASSERT_TRUE(x.ok()) << x.status().ToString();
        EXPECT_LT(testing::RelL2(*x, ref[key("sample")]), 2e-5);
        EXPECT_TRUE(at::isfinite(*x).all().item<bool>());
      }
    }
  }
}

// Known values: SD 1.5's Euler schedule at 1 and 4 steps and SD-Turbo's trailing timesteps.
TEST(SamplerTest, KnownSchedules) {
  SchedulerConfig sd;
  auto one = MakeSchedule(sd, Sampler::kEuler, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->timesteps, std::vector<double>{1});  // leading: 0 * 1000 + steps_offset
  auto four = MakeSchedule(sd, Sampler::kEuler, 4);
  ASSERT_TRUE(four.ok());
  EXPECT_EQ(four->timesteps, (std::vector<double>{751, 501, 251, 1}));
  EXPECT_NEAR(TrainingSigmas(sd).back(), 14.6146, 1e-3);  // SD's sigma_max
  EXPECT_NEAR(TrainingSigmas(sd).front(), 0.0292, 1e-3);  // SD's sigma_min
  SchedulerConfig turbo = sd;
  turbo.timestep_spacing = "trailing";
  auto t1 = MakeSchedule(turbo, Sampler::kEulerAncestral, 1);
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(t1->timesteps, std::vector<double>{999});
  EXPECT_NEAR(t1->init_noise_sigma, TrainingSigmas(sd).back(), 1e-5);
  auto t4 = MakeSchedule(turbo, Sampler::kEulerAncestral, 4);
  ASSERT_TRUE(t4.ok());
  EXPECT_EQ(t4->timesteps, (std::vector<double>{999, 749, 499, 249}));
  EXPECT_EQ(t4->sigmas.back(), 0);
}

TEST(SamplerTest, BadStepsAndConfigs) {
  SchedulerConfig sd;
  EXPECT_EQ(MakeSchedule(sd, Sampler::kEuler, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeSchedule(sd, Sampler::kEuler, 1001).status().code(), StatusCode::kInvalidArgument);
  SchedulerConfig bad = sd;
  bad.timestep_spacing = "sideways";
  EXPECT_EQ(MakeSchedule(bad, Sampler::kEuler, 4).status().code(), StatusCode::kInvalidArgument);
  bad = sd;
  bad.beta_schedule = "cosine";
  EXPECT_EQ(MakeSchedule(bad, Sampler::kEuler, 4).status().code(), StatusCode::kInvalidArgument);
}

TEST(SamplerTest, CancelStopsBeforeTheNextStep) {
  SchedulerConfig sd;
  auto schedule = MakeSchedule(sd, Sampler::kEuler, 10);
  ASSERT_TRUE(schedule.ok());
  int calls = 0;
  Denoiser counting = [&](const at::Tensor& x, double, double) {
    ++calls;
    return x * 0;
  };
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  auto r = Sample(Sampler::kEuler, *schedule, at::randn({1, 4, 2, 2}, gen), counting, gen,
                  [&] { return calls >= 3; });
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(calls, 3);
}

// A perfect denoiser (it always returns the same clean image) lands on that image at sigma 0
// with every sampler: Euler and DPM++ exactly, Euler ancestral too since sigma_up is 0 last.
TEST(SamplerTest, PerfectDenoiserReachesTheCleanImage) {
  SchedulerConfig sd;
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(3);
  const at::Tensor clean = at::randn({1, 4, 4, 4}, gen);
  for (Sampler s : {Sampler::kEuler, Sampler::kEulerAncestral, Sampler::kDpmpp2mKarras}) {
    auto schedule = MakeSchedule(sd, s, 8);
    ASSERT_TRUE(schedule.ok());
    auto x = Sample(
        s, *schedule, at::randn({1, 4, 4, 4}, gen),
        [&](const at::Tensor&, double, double) { return clean; }, gen, nullptr);
    ASSERT_TRUE(x.ok());
    EXPECT_LT(testing::RelL2(*x, clean), 1e-5) << SamplerName(s);
  }
}

}  // namespace
}  // namespace basalt::image
