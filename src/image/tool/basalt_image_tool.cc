// basalt-image-tool: writes random-weight Stable Diffusion checkpoints with the real tensor names,
// shapes and configs (tests and bench/ make their models with it).
//
//   basalt-image-tool make-random --variant sd1|sd2|sd-turbo --shape tiny|real
//       --layout diffusers|single --dtype f32|f16|bf16 --seed N --out PATH
//
// diffusers: PATH/ gets model_index.json, scheduler/, tokenizer/, text_encoder/, unet/, vae/.
// single: PATH is one .safetensors in the original key layout, with tokenizer/ beside it.
// Every value is a function of (seed, diffusers tensor name), so the two layouts of one seed
// hold the same tensors.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "image/safetensors.h"
#include "image/sd_layout.h"

namespace basalt::image {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct ToolOptions {
  std::string variant = "sd1", shape = "tiny", layout = "diffusers", dtype = "f16", out;
  uint64_t seed = 0;
};

// ---- Tokenizer: CLIP's byte symbols, their </w> forms, merges learned from English words.

const char* kToolCorpus =
    "a photo of an astronaut riding a horse on the moon the quick brown fox jumps over lazy dog "
    "portrait painting landscape mountain river sunset beautiful detailed high quality digital "
    "art city street night rain neon lights cat sitting table coffee cup castle forest fantasy "
    "dragon flying sky clouds ocean waves beach sand tree flower garden spring summer winter "
    "snow house window door red green blue yellow white black orange purple pink golden hour "
    "cinematic lighting trending artstation photorealistic ultra sharp focus oil canvas "
    "watercolor sketch pencil drawing anime style character woman man child old young in with "
    "and for is at by from this that to it are was be as cute small big happy dark bright "
    "light wooden stone glass metal robot car train boat bird fish bear wolf lion tiger";

std::vector<std::string> ToolByteSymbols() {
  std::vector<std::string> t(256);
  int extra = 0;
  auto utf8 = [](char32_t c) {
    std::string s;
    if (c < 0x80) {
      s.push_back(static_cast<char>(c));
    } else {
      s.push_back(static_cast<char>(0xC0 | (c >> 6)));
      s.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
    return s;
  };
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    t[b] = utf8(printable ? static_cast<char32_t>(b) : 256 + extra++);
  }
  return t;
}

struct ToolVocab {
  std::vector<std::string> tokens;
  std::vector<std::pair<std::string, std::string>> merges;
};

ToolVocab MakeVocab(int total_size) {
  ToolVocab v;
  const auto bytes = ToolByteSymbols();
  // CLIP's order: the bytes in bytes_to_unicode order (printables first), then </w> forms.
  std::vector<int> order;
  for (int b = 0; b < 256; ++b) {
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE) order.push_back(b);
  }
  for (int b = 0; b < 256; ++b) {
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) order.push_back(b);
  }
  for (int b : order) v.tokens.push_back(bytes[b]);
  for (int b : order) v.tokens.push_back(bytes[b] + "</w>");
  std::set<std::string> have(v.tokens.begin(), v.tokens.end());
  const size_t target_merges = static_cast<size_t>(total_size) - 512 - 2;
  // Learn merges from the corpus (words weighted by their position: earlier = commoner).
  std::vector<std::pair<std::vector<std::string>, int>> words;
  std::istringstream ss(kToolCorpus);
  std::string w;
  int weight = 200;
  while (ss >> w) {
    std::vector<std::string> syms;
    for (unsigned char c : w) syms.push_back(bytes[c]);
    syms.back() += "</w>";
    words.push_back({syms, weight > 1 ? weight-- : 1});
  }
  while (v.merges.size() < target_merges) {
    std::map<std::pair<std::string, std::string>, int> counts;
    for (const auto& [syms, c] : words) {
      for (size_t i = 0; i + 1 < syms.size(); ++i) counts[{syms[i], syms[i + 1]}] += c;
    }
    if (counts.empty()) break;
    auto best = counts.begin();
    for (auto it = counts.begin(); it != counts.end(); ++it) {
      if (it->second > best->second) best = it;
    }
    const auto pair = best->first;
    v.merges.push_back(pair);
    if (have.insert(pair.first + pair.second).second) v.tokens.push_back(pair.first + pair.second);
    for (auto& [syms, c] : words) {
      std::vector<std::string> out;
      for (size_t i = 0; i < syms.size();) {
        if (i + 1 < syms.size() && syms[i] == pair.first && syms[i + 1] == pair.second) {
          out.push_back(syms[i] + syms[i + 1]);
          i += 2;
        } else {
          out.push_back(syms[i++]);
        }
      }
      syms = std::move(out);
    }
  }
  // The real vocabulary's size: fill with merges of existing tokens into new ones.
  for (size_t a = 0; v.merges.size() < target_merges && a < v.tokens.size(); ++a) {
    if (v.tokens[a].size() >= 4 && v.tokens[a].compare(v.tokens[a].size() - 4, 4, "</w>") == 0) {
      continue;
    }
    for (size_t b = 0; b < 512 && v.merges.size() < target_merges; ++b) {
      const std::string merged = v.tokens[a] + v.tokens[b];
      if (have.insert(merged).second) {
        v.merges.push_back({v.tokens[a], v.tokens[b]});
        v.tokens.push_back(merged);
      }
    }
  }
  v.tokens.push_back("<|startoftext|>");
  v.tokens.push_back("<|endoftext|>");
  return v;
}

// ---- Random values.

uint64_t ToolHash(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char c : name) h = (h ^ c) * 1099511628211ull;
  return h;
}

uint16_t FloatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = static_cast<int32_t>((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (exp >= 31) return static_cast<uint16_t>(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return static_cast<uint16_t>(sign);
    mant |= 0x800000;
    const int shift = 14 - exp;
    uint32_t half = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t half = (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;
  return static_cast<uint16_t>(sign | half);
}

uint16_t FloatToBf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fff + ((x >> 16) & 1);
  return static_cast<uint16_t>(x >> 16);
}

// normal(0, 1/sqrt(fan_in)) for weights, 1 + small noise for norm scales, small noise for
// biases: activations stay O(1) and every parameter matters to a numerics test.
std::vector<float> RandomValues(uint64_t seed, const TensorSpec& spec) {
  int64_t numel = 1, fan_in = 1;
  for (size_t i = 0; i < spec.shape.size(); ++i) {
    numel *= spec.shape[i];
    if (i > 0) fan_in *= spec.shape[i];
  }
  std::mt19937_64 rng(ToolHash(seed, spec.name));
  std::normal_distribution<float> normal(0.f, 1.f);
  const bool is_1d = spec.shape.size() == 1;
  const bool is_norm = spec.name.find("norm") != std::string::npos && spec.name.size() > 7 &&
                       spec.name.compare(spec.name.size() - 7, 7, ".weight") == 0;
  const float scale = is_1d ? 0.05f : 1.f / std::sqrt(static_cast<float>(fan_in));
  std::vector<float> v(static_cast<size_t>(numel));
  for (float& x : v) x = normal(rng) * scale + (is_1d && is_norm ? 1.f : 0.f);
  return v;
}

DType ToolDType(const std::string& d) {
  return d == "f32" ? DType::kF32 : d == "bf16" ? DType::kBF16 : DType::kF16;
}

std::string Encode(const std::vector<float>& v, DType dtype) {
  std::string out;
  if (dtype == DType::kF32) {
    out.assign(reinterpret_cast<const char*>(v.data()), v.size() * 4);
    return out;
  }
  out.resize(v.size() * 2);
  for (size_t i = 0; i < v.size(); ++i) {
    const uint16_t h = dtype == DType::kF16 ? FloatToHalf(v[i]) : FloatToBf16(v[i]);
    std::memcpy(&out[i * 2], &h, 2);
  }
  return out;
}

// ---- Configs.

struct ToolModel {
  ClipShape clip;
  int clip_heads = 4;
  std::string clip_act;
  UNetShape unet;
  json unet_heads;
  int unet_groups = 8, unet_sample = 8;
  VaeShape vae;
  int vae_groups = 4, vae_sample = 64;
  bool sd2 = false, turbo = false, real = false;
};

ToolModel MakeModel(const ToolOptions& o, int vocab_size) {
  ToolModel m;
  m.sd2 = o.variant != "sd1";
  m.turbo = o.variant == "sd-turbo";
  m.real = o.shape == "real";
  m.clip.vocab_size = vocab_size;
  m.clip_act = m.sd2 ? "gelu" : "quick_gelu";
  if (m.real) {
    m.clip.hidden_size = m.sd2 ? 1024 : 768;
    m.clip.intermediate_size = 4 * m.clip.hidden_size;
    m.clip.num_hidden_layers = m.sd2 ? 23 : 12;  // SD 2.x: OpenCLIP-H's last layer dropped
    m.clip_heads = m.clip.hidden_size / 64;
    m.unet.cross_attention_dim = m.clip.hidden_size;
    m.unet.use_linear_projection = m.sd2;
    m.unet_heads = m.sd2 ? json::array({5, 10, 20, 20}) : json(8);
    m.unet_groups = 32;
    m.unet_sample = 64;
    m.vae_groups = 32;
    m.vae_sample = 512;
  } else {
    m.clip.hidden_size = 32;
    m.clip.intermediate_size = 64;
    m.clip.num_hidden_layers = 3;
    m.clip_heads = 4;
    m.unet.block_out_channels = {32, 64};
    m.unet.cross_attention = {true, false};
    m.unet.layers_per_block = 1;
    m.unet.cross_attention_dim = 32;
    m.unet.use_linear_projection = m.sd2;
    m.unet_heads = m.sd2 ? json::array({2, 4}) : json(8);
    m.vae.block_out_channels = {8, 16, 16, 16};
    m.vae.layers_per_block = 1;
  }
  return m;
}

json UNetConfigJson(const ToolModel& m) {
  json down = json::array(), up = json::array();
  const auto& ca = m.unet.cross_attention;
  for (bool c : ca) down.push_back(c ? "CrossAttnDownBlock2D" : "DownBlock2D");
  for (auto it = ca.rbegin(); it != ca.rend(); ++it) {
    up.push_back(*it ? "CrossAttnUpBlock2D" : "UpBlock2D");
  }
  return {{"_class_name", "UNet2DConditionModel"},
          {"_diffusers_version", "0.27.0"},
          {"act_fn", "silu"},
          {"attention_head_dim", m.unet_heads},
          {"block_out_channels", m.unet.block_out_channels},
          {"center_input_sample", false},
          {"cross_attention_dim", m.unet.cross_attention_dim},
          {"down_block_types", down},
          {"downsample_padding", 1},
          {"flip_sin_to_cos", true},
          {"freq_shift", 0},
          {"in_channels", m.unet.in_channels},
          {"layers_per_block", m.unet.layers_per_block},
          {"mid_block_scale_factor", 1},
          {"norm_eps", 1e-05},
          {"norm_num_groups", m.unet_groups},
          {"out_channels", m.unet.out_channels},
          {"sample_size", m.unet_sample},
          {"up_block_types", up},
          {"upcast_attention", false},
          {"use_linear_projection", m.unet.use_linear_projection}};
}

json VaeConfigJson(const ToolModel& m) {
  const size_t n = m.vae.block_out_channels.size();
  return {{"_class_name", "AutoencoderKL"},
          {"_diffusers_version", "0.27.0"},
          {"act_fn", "silu"},
          {"block_out_channels", m.vae.block_out_channels},
          {"down_block_types", std::vector<std::string>(n, "DownEncoderBlock2D")},
          {"up_block_types", std::vector<std::string>(n, "UpDecoderBlock2D")},
          {"in_channels", 3},
          {"out_channels", 3},
          {"latent_channels", m.vae.latent_channels},
          {"layers_per_block", m.vae.layers_per_block},
          {"norm_num_groups", m.vae_groups},
          {"sample_size", m.vae_sample},
          {"scaling_factor", 0.18215}};
}

json ClipConfigJson(const ToolModel& m, int bos, int eos, int pad) {
  return {{"architectures", {"CLIPTextModel"}},
          {"model_type", "clip_text_model"},
          {"vocab_size", m.clip.vocab_size},
          {"hidden_size", m.clip.hidden_size},
          {"intermediate_size", m.clip.intermediate_size},
          {"num_hidden_layers", m.clip.num_hidden_layers},
          {"num_attention_heads", m.clip_heads},
          {"max_position_embeddings", m.clip.max_position_embeddings},
          {"hidden_act", m.clip_act},
          {"layer_norm_eps", 1e-05},
          {"attention_dropout", 0.0},
          {"initializer_factor", 1.0},
          {"initializer_range", 0.02},
          {"projection_dim", m.sd2 ? 1024 : 768},
          {"bos_token_id", bos},
          {"eos_token_id", eos},
          {"pad_token_id", pad},
          {"torch_dtype", "float32"}};
}

json SchedulerConfigJson(const ToolModel& m) {
  return {{"_class_name", m.turbo ? "EulerDiscreteScheduler" : "PNDMScheduler"},
          {"_diffusers_version", "0.27.0"},
          {"beta_start", 0.00085},
          {"beta_end", 0.012},
          {"beta_schedule", "scaled_linear"},
          {"num_train_timesteps", 1000},
          {"prediction_type", "epsilon"},
          {"steps_offset", 1},
          {"timestep_spacing", m.turbo ? "trailing" : "leading"},
          {"clip_sample", false},
          {"set_alpha_to_one", false},
          {"skip_prk_steps", true}};
}

bool WriteText(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return static_cast<bool>(out);
}

// ---- Writing.

int Fail(const std::string& what) {
  std::cerr << "basalt-image-tool: " << what << "\n";
  return 1;
}

int WriteTokenizer(const fs::path& dir, const ToolVocab& v, const std::string& pad) {
  fs::create_directories(dir);
  json vocab = json::object();
  for (size_t i = 0; i < v.tokens.size(); ++i) vocab[v.tokens[i]] = i;
  std::string merges = "#version: 0.2\n";
  for (const auto& [a, b] : v.merges) merges += a + " " + b + "\n";
  const json special = {{"bos_token", "<|startoftext|>"},
                        {"eos_token", "<|endoftext|>"},
                        {"unk_token", "<|endoftext|>"},
                        {"pad_token", pad}};
  json config = special;
  config["model_max_length"] = 77;
  config["tokenizer_class"] = "CLIPTokenizer";
  config["do_lower_case"] = true;
  if (!WriteText(dir / "vocab.json", vocab.dump()) || !WriteText(dir / "merges.txt", merges) ||
      !WriteText(dir / "special_tokens_map.json", special.dump(2)) ||
      !WriteText(dir / "tokenizer_config.json", config.dump(2))) {
    return Fail("cannot write " + dir.string());
  }
  return 0;
}

int WriteFile(const std::string& path, std::vector<TensorToWrite> tensors) {
  Status st = WriteSafetensors(path, tensors, {{"format", "pt"}});
  return st.ok() ? 0 : Fail(st.ToString());
}

std::vector<TensorToWrite> Tensors(const std::vector<TensorSpec>& specs, const ToolOptions& o,
                                   const std::string& name_prefix = "") {
  std::vector<TensorToWrite> out;
  const DType dt = ToolDType(o.dtype);
  for (const TensorSpec& s : specs) {
    out.push_back({name_prefix + s.name, dt, s.shape, Encode(RandomValues(o.seed, s), dt)});
  }
  return out;
}

int MakeRandom(const ToolOptions& o) {
  const ToolVocab vocab = MakeVocab(o.shape == "real" ? 49408 : 1014);
  ToolModel m = MakeModel(o, static_cast<int>(vocab.tokens.size()));
  const std::string pad = m.sd2 ? "!" : "<|endoftext|>";
  const int bos = static_cast<int>(vocab.tokens.size()) - 2, eos = bos + 1;
  const int pad_id = m.sd2 ? 0 : eos;
  const DType dt = ToolDType(o.dtype);
  fs::path out(o.out);
  std::error_code ec;
  if (o.layout == "diffusers") {
    fs::create_directories(out, ec);
    for (const char* d : {"scheduler", "text_encoder", "unet", "vae"}) {
      fs::create_directories(out / d, ec);
    }
    if (ec) return Fail("cannot create " + out.string() + ": " + ec.message());
    const json index = {
        {"_class_name", "StableDiffusionPipeline"},
        {"_diffusers_version", "0.27.0"},
        {"feature_extractor", {nullptr, nullptr}},
        {"requires_safety_checker", false},
        {"safety_checker", {nullptr, nullptr}},
        {"scheduler", {"diffusers", m.turbo ? "EulerDiscreteScheduler" : "PNDMScheduler"}},
        {"text_encoder", {"transformers", "CLIPTextModel"}},
        {"tokenizer", {"transformers", "CLIPTokenizer"}},
        {"unet", {"diffusers", "UNet2DConditionModel"}},
        {"vae", {"diffusers", "AutoencoderKL"}}};
    if (!WriteText(out / "model_index.json", index.dump(2)) ||
        !WriteText(out / "scheduler/scheduler_config.json", SchedulerConfigJson(m).dump(2)) ||
        !WriteText(out / "text_encoder/config.json", ClipConfigJson(m, bos, eos, pad_id).dump(2)) ||
        !WriteText(out / "unet/config.json", UNetConfigJson(m).dump(2)) ||
        !WriteText(out / "vae/config.json", VaeConfigJson(m).dump(2))) {
      return Fail("cannot write the configs under " + out.string());
    }
    if (int rc = WriteTokenizer(out / "tokenizer", vocab, pad)) return rc;
    if (int rc = WriteFile((out / "text_encoder/model.safetensors").string(),
                           Tensors(ClipTensorSpecs(m.clip), o))) {
      return rc;
    }
    if (int rc = WriteFile((out / "unet/diffusion_pytorch_model.safetensors").string(),
                           Tensors(UNetTensorSpecs(m.unet), o))) {
      return rc;
    }
    return WriteFile((out / "vae/diffusion_pytorch_model.safetensors").string(),
                     Tensors(VaeTensorSpecs(m.vae), o));
  }
  // Single file, original layout.
  if (out.has_parent_path()) fs::create_directories(out.parent_path(), ec);
  std::vector<TensorToWrite> all;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, const std::string& data) {
    all.push_back({name, dt, std::move(shape), data});
  };
  for (const TensorSpec& s : UNetTensorSpecs(m.unet)) {
    add(UNetOriginalKey(s.name, m.unet).name, s.shape, Encode(RandomValues(o.seed, s), dt));
  }
  for (const TensorSpec& s : VaeTensorSpecs(m.vae)) {
    OriginalKey k = VaeOriginalKey(s.name, m.vae);
    std::vector<int64_t> shape = s.shape;
    if (k.conv1x1) shape.insert(shape.end(), {1, 1});
    add(k.name, shape, Encode(RandomValues(o.seed, s), dt));
  }
  ClipShape clip = m.clip;
  if (m.sd2 && m.real) clip.num_hidden_layers = 24;  // the original holds OpenCLIP-H's 24 layers
  std::map<std::string, std::pair<std::vector<int64_t>, std::string>> fused;
  for (const TensorSpec& s : ClipTensorSpecs(clip)) {
    OriginalKey k = ClipOriginalKey(s.name, m.sd2);
    const std::string data = Encode(RandomValues(o.seed, s), dt);
    if (k.slice < 0) {
      add(k.name, s.shape, data);
      continue;
    }
    auto& f = fused[k.name];  // q, k, v arrive in that order: rows concatenate
    if (f.first.empty()) f.first = s.shape, f.first[0] = 0;
    f.first[0] += s.shape[0];
    f.second += data;
  }
  for (auto& [name, f] : fused) add(name, f.first, f.second);
  if (m.sd2) {
    const int64_t h = clip.hidden_size;
    TensorSpec proj{"cond_stage_model.model.text_projection", {h, h}};
    add(proj.name, proj.shape, Encode(RandomValues(o.seed, proj), dt));
  } else {
    std::string ids;
    for (int64_t i = 0; i < 77; ++i) ids.append(reinterpret_cast<const char*>(&i), 8);
    all.push_back({"cond_stage_model.transformer.text_model.embeddings.position_ids",
                   DType::kI64,
                   {1, 77},
                   ids});
  }
  if (int rc = WriteFile(out.string(), std::move(all))) return rc;
  return WriteTokenizer(out.parent_path() / "tokenizer", vocab, pad);
}

}  // namespace
}  // namespace basalt::image

int main(int argc, char** argv) {
  CLI::App app{"basalt-image-tool: random-weight Stable Diffusion checkpoints for tests"};
  app.require_subcommand(1);
  basalt::image::ToolOptions o;
  CLI::App* mk = app.add_subcommand(
      "make-random", "Write a checkpoint with random weights and the real names and shapes");
  mk->add_option("--variant", o.variant, "sd1, sd2 or sd-turbo")
      ->check(CLI::IsMember({"sd1", "sd2", "sd-turbo"}));
  mk->add_option("--shape", o.shape, "tiny (tests) or real (SD 1.5 / SD 2.1-base shapes)")
      ->check(CLI::IsMember({"tiny", "real"}));
  mk->add_option("--layout", o.layout, "diffusers (a folder) or single (one .safetensors)")
      ->check(CLI::IsMember({"diffusers", "single"}));
  mk->add_option("--dtype", o.dtype, "f32, f16 or bf16")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  mk->add_option("--seed", o.seed, "seed of the weights");
  mk->add_option("--out", o.out, "output folder (diffusers) or .safetensors file (single)")
      ->required();
  CLI11_PARSE(app, argc, argv);
  return basalt::image::MakeRandom(o);
}
