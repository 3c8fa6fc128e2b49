#include "image/checkpoint.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "image/sd_layout.h"

namespace basalt::image {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* kPickleAdvice =
    " is a pickle checkpoint (.ckpt/.bin/.pt/.pth), which Basalt does not load (unpickling runs "
    "code from the file): convert it to .safetensors first";

bool CkIsPickle(const fs::path& p) {
  const std::string ext = p.extension().string();
  return ext == ".ckpt" || ext == ".bin" || ext == ".pt" || ext == ".pth";
}

StatusOr<json> CkReadJson(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::FailedPrecondition("checkpoint file '" + path.string() + "' is missing");
  std::stringstream ss;
  ss << in.rdbuf();
  json j = json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::FailedPrecondition("checkpoint file '" + path.string() +
                                      "' is not a JSON object");
  }
  return j;
}

// Typed config fields: absent -> default, wrong type -> an error naming the file and key.
class CkFields {
 public:
  CkFields(const json& j, std::string file) : j_(j), file_(std::move(file)) {}
  template <typename T>
  void Get(const char* key, T* out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    try {
      *out = it->get<T>();
    } catch (const std::exception&) {
      if (status_.ok()) {
        status_ = Status::FailedPrecondition("checkpoint file '" + file_ + "': '" + key +
                                             "' has the wrong type");
      }
    }
  }
  // An int or a list of ints.
  void GetPerBlock(const char* key, std::vector<int>* out) {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return;
    if (it->is_number_integer()) {
      *out = {it->get<int>()};
    } else {
      Get(key, out);
    }
  }
  void Fail(const std::string& what) {
    if (status_.ok())
      status_ = Status::FailedPrecondition("checkpoint file '" + file_ + "': " + what);
  }
  const Status& status() const { return status_; }

 private:
  const json& j_;
  std::string file_;
  Status status_;
};

Status ClipFromJson(const json& j, const std::string& file, ClipConfig* c) {
  CkFields f(j, file);
  f.Get("vocab_size", &c->vocab_size);
  f.Get("hidden_size", &c->hidden_size);
  f.Get("intermediate_size", &c->intermediate_size);
  f.Get("num_hidden_layers", &c->num_hidden_layers);
  f.Get("num_attention_heads", &c->num_attention_heads);
  f.Get("max_position_embeddings", &c->max_position_embeddings);
  f.Get("hidden_act", &c->hidden_act);
  f.Get("layer_norm_eps", &c->layer_norm_eps);
  f.Get("eos_token_id", &c->eos_token_id);
  if (c->hidden_act != "quick_gelu" && c->hidden_act != "gelu") {
    f.Fail("unsupported hidden_act '" + c->hidden_act + "'");
  }
  if (c->num_attention_heads <= 0 || c->hidden_size % c->num_attention_heads != 0) {
    f.Fail("hidden_size is not a multiple of num_attention_heads");
  }
  return f.status();
}

Status UNetFromJson(const json& j, const std::string& file, UNetConfig* c) {
  CkFields f(j, file);
  f.Get("in_channels", &c->in_channels);
  f.Get("out_channels", &c->out_channels);
  f.Get("sample_size", &c->sample_size);
  f.Get("block_out_channels", &c->block_out_channels);
  f.Get("down_block_types", &c->down_block_types);
  f.Get("up_block_types", &c->up_block_types);
  f.Get("layers_per_block", &c->layers_per_block);
  f.GetPerBlock("attention_head_dim", &c->attention_head_dim);
  f.GetPerBlock("num_attention_heads", &c->num_attention_heads);
  f.Get("cross_attention_dim", &c->cross_attention_dim);
  f.Get("use_linear_projection", &c->use_linear_projection);
  f.Get("norm_num_groups", &c->norm_num_groups);
  f.Get("norm_eps", &c->norm_eps);
  f.Get("flip_sin_to_cos", &c->flip_sin_to_cos);
  f.Get("freq_shift", &c->freq_shift);
  f.Get("transformer_layers_per_block", &c->transformer_layers_per_block);
  f.Get("upcast_attention", &c->upcast_attention);
  const size_t n = c->block_out_channels.size();
  if (n == 0 || c->down_block_types.size() != n || c->up_block_types.size() != n) {
    f.Fail("block_out_channels, down_block_types and up_block_types differ in length");
  }
  for (size_t i = 0; i < c->down_block_types.size(); ++i) {
    const std::string& d = c->down_block_types[i];
    if (d != "CrossAttnDownBlock2D" && d != "DownBlock2D") f.Fail("unsupported block type " + d);
  }
  for (const std::string& u : c->up_block_types) {
    if (u != "CrossAttnUpBlock2D" && u != "UpBlock2D") f.Fail("unsupported block type " + u);
  }
  if (c->transformer_layers_per_block != 1) f.Fail("transformer_layers_per_block must be 1");
  if (c->attention_head_dim.size() == 1 && n > 1)
    c->attention_head_dim.resize(n, c->attention_head_dim[0]);
  if (c->num_attention_heads.size() == 1 && n > 1) {
    c->num_attention_heads.resize(n, c->num_attention_heads[0]);
  }
  return f.status();
}

Status VaeFromJson(const json& j, const std::string& file, VaeConfig* c) {
  CkFields f(j, file);
  f.Get("in_channels", &c->in_channels);
  f.Get("out_channels", &c->out_channels);
  f.Get("latent_channels", &c->latent_channels);
  f.Get("block_out_channels", &c->block_out_channels);
  f.Get("layers_per_block", &c->layers_per_block);
  f.Get("norm_num_groups", &c->norm_num_groups);
  f.Get("scaling_factor", &c->scaling_factor);
  if (c->block_out_channels.empty()) f.Fail("block_out_channels is empty");
  return f.status();
}

Status SchedulerFromJson(const json& j, const std::string& file, SchedulerConfig* c) {
  CkFields f(j, file);
  f.Get("num_train_timesteps", &c->num_train_timesteps);
  f.Get("beta_start", &c->beta_start);
  f.Get("beta_end", &c->beta_end);
  f.Get("beta_schedule", &c->beta_schedule);
  f.Get("prediction_type", &c->prediction_type);
  f.Get("timestep_spacing", &c->timestep_spacing);
  f.Get("steps_offset", &c->steps_offset);
  if (c->beta_schedule != "scaled_linear" && c->beta_schedule != "linear") {
    f.Fail("unsupported beta_schedule '" + c->beta_schedule + "'");
  }
  if (c->prediction_type != "epsilon" && c->prediction_type != "v_prediction") {
    f.Fail("unsupported prediction_type '" + c->prediction_type + "'");
  }
  return f.status();
}

// The variant, SD-Turbo's trailing timesteps and SD 2.x's penultimate text layer.
Status FinishInfo(const ImageModelConfig& config, CheckpointInfo* info) {
  const std::string& v = config.variant;
  if (v != "auto" && v != "sd1" && v != "sd2" && v != "sd-turbo") {
    return Status::InvalidArgument("unknown image model variant '" + v +
                                   "' (auto, sd1, sd2 or sd-turbo)");
  }
  if (v != "auto") {
    info->variant = v;
  } else {
    const int x = info->unet.cross_attention_dim;
    const bool sd2 = x == 1024 || (x != 768 && info->unet.use_linear_projection);
    info->variant = !sd2                                             ? "sd1"
                    : info->scheduler.timestep_spacing == "trailing" ? "sd-turbo"
                                                                     : "sd2";
  }
  if (info->variant == "sd-turbo") info->scheduler.timestep_spacing = "trailing";
  // SD 2.x conditions on OpenCLIP's penultimate layer. Converted real checkpoints already
  // dropped the last of its 24 layers (23 left, 1024 wide); other SD 2.x text encoders skip one.
  const bool converted_openclip_h =
      info->clip.hidden_size == 1024 && info->clip.num_hidden_layers == 23;
  info->clip_skip = info->variant == "sd1" || converted_openclip_h ? 0 : 1;
  if (info->clip.hidden_size != info->unet.cross_attention_dim) {
    return Status::FailedPrecondition("checkpoint '" + config.path + "': the text encoder is " +
                                      std::to_string(info->clip.hidden_size) +
                                      " wide but the UNet's cross-attention expects " +
                                      std::to_string(info->unet.cross_attention_dim));
  }
  return Status::Ok();
}

// ---- diffusers folders

StatusOr<fs::path> FindWeights(const fs::path& dir, const std::string& base) {
  for (const std::string& name : {base + ".safetensors", base + ".fp16.safetensors"}) {
    if (fs::exists(dir / name)) return dir / name;
  }
  for (const std::string& name : {base + ".bin", base + ".fp16.bin", base + ".ckpt"}) {
    if (fs::exists(dir / name)) {
      return Status::FailedPrecondition("checkpoint file '" + (dir / name).string() + "'" +
                                        kPickleAdvice);
    }
  }
  return Status::FailedPrecondition("checkpoint folder '" + dir.string() + "' has no " + base +
                                    ".safetensors");
}

StatusOr<CheckpointInfo> ReadDiffusersInfo(const ImageModelConfig& config) {
  const fs::path root(config.path);
  CheckpointInfo info;
  BASALT_ASSIGN_OR_RETURN(json index, CkReadJson(root / "model_index.json"));
  (void)index;
  for (const char* part : {"text_encoder", "tokenizer", "unet", "vae"}) {
    if (!fs::is_directory(root / part)) {
      return Status::FailedPrecondition("checkpoint folder '" + config.path + "' has no " + part +
                                        "/ folder");
    }
  }
  {
    const fs::path p = root / "text_encoder/config.json";
    BASALT_ASSIGN_OR_RETURN(json j, CkReadJson(p));
    BASALT_RETURN_IF_ERROR(ClipFromJson(j, p.string(), &info.clip));
  }
  {
    const fs::path p = root / "unet/config.json";
    BASALT_ASSIGN_OR_RETURN(json j, CkReadJson(p));
    BASALT_RETURN_IF_ERROR(UNetFromJson(j, p.string(), &info.unet));
  }
  {
    const fs::path p = root / "vae/config.json";
    BASALT_ASSIGN_OR_RETURN(json j, CkReadJson(p));
    BASALT_RETURN_IF_ERROR(VaeFromJson(j, p.string(), &info.vae));
  }
  const fs::path sched = root / "scheduler/scheduler_config.json";
  if (fs::exists(sched)) {
    BASALT_ASSIGN_OR_RETURN(json j, CkReadJson(sched));
    BASALT_RETURN_IF_ERROR(SchedulerFromJson(j, sched.string(), &info.scheduler));
  }
  BASALT_RETURN_IF_ERROR(FinishInfo(config, &info));
  return info;
}

// ---- single files (original layout)

struct SingleLayout {
  CheckpointInfo info;
  UNetShape unet;
  VaeShape vae;
  ClipShape clip;
  bool open_clip = false;
  // Early SD 1.x files (older transformers) lack the "text_model." level.
  bool clip_without_text_model = false;
};

std::vector<int64_t> CkShape(const SafetensorsFile& f, const std::string& name) {
  const TensorView* t = f.Find(name);
  return t ? t->shape : std::vector<int64_t>{};
}

// Counts "<prefix><i>." keys: the number of consecutive indices from 0.
int CkCountIndexed(const SafetensorsFile& f, const std::string& prefix) {
  std::set<int> seen;
  for (const TensorView& t : f.tensors()) {
    if (t.name.compare(0, prefix.size(), prefix) != 0) continue;
    const size_t dot = t.name.find('.', prefix.size());
    const std::string idx = t.name.substr(prefix.size(), dot - prefix.size());
    if (!idx.empty() && idx.size() < 6 &&
        idx.find_first_not_of("0123456789") == std::string::npos) {
      seen.insert(std::stoi(idx));
    }
  }
  int n = 0;
  while (seen.count(n)) ++n;
  return n;
}

StatusOr<SingleLayout> InferSingle(const SafetensorsFile& f, const ImageModelConfig& config) {
  SingleLayout s;
  const std::string& path = f.path();
  auto bad = [&](const std::string& what) {
    return Status::FailedPrecondition("single-file checkpoint '" + path + "': " + what);
  };
  const std::string u = "model.diffusion_model.";
  const auto conv_in = CkShape(f, u + "input_blocks.0.0.weight");
  if (conv_in.size() != 4) {
    return bad(
        "unknown layout: no model.diffusion_model.input_blocks.0.0.weight (expected an original "
        "Stable Diffusion 1.x/2.x checkpoint, or use a diffusers folder)");
  }
  // UNet: blocks and layers from the input_blocks indices and the first downsampler.
  const int total = CkCountIndexed(f, u + "input_blocks.");
  int per = total;  // layers_per_block + 1
  for (int k = 1; k < total; ++k) {
    if (f.Find(u + "input_blocks." + std::to_string(k) + ".0.op.weight")) {
      per = k;
      break;
    }
  }
  if (per < 2 || total % per != 0) return bad("cannot read the UNet's block layout");
  const int n = total / per;
  s.unet.layers_per_block = per - 1;
  s.unet.in_channels = static_cast<int>(conv_in[1]);
  const auto conv_out = CkShape(f, u + "out.2.weight");
  if (conv_out.size() != 4) return bad("missing tensor 'model.diffusion_model.out.2.weight'");
  s.unet.out_channels = static_cast<int>(conv_out[0]);
  s.unet.block_out_channels.clear();
  s.unet.cross_attention.clear();
  std::string attn;
  for (int i = 0; i < n; ++i) {
    const std::string blk = u + "input_blocks." + std::to_string(i * per + 1);
    const auto ch = CkShape(f, blk + ".0.out_layers.3.weight");
    if (ch.empty()) return bad("missing tensor '" + blk + ".0.out_layers.3.weight'");
    s.unet.block_out_channels.push_back(static_cast<int>(ch[0]));
    const bool cross = f.Find(blk + ".1.proj_in.weight") != nullptr;
    s.unet.cross_attention.push_back(cross);
    if (cross && attn.empty()) attn = blk + ".1.";
  }
  if (attn.empty()) attn = u + "middle_block.1.";
  const auto to_k = CkShape(f, attn + "transformer_blocks.0.attn2.to_k.weight");
  const auto proj_in = CkShape(f, attn + "proj_in.weight");
  if (to_k.size() != 2 || proj_in.empty()) return bad("missing the UNet's attention tensors");
  s.unet.cross_attention_dim = static_cast<int>(to_k[1]);
  s.unet.use_linear_projection = proj_in.size() == 2;
  // VAE.
  const std::string v = "first_stage_model.";
  const int vn = CkCountIndexed(f, v + "encoder.down.");
  const auto pq = CkShape(f, v + "post_quant_conv.weight");
  if (vn == 0 || pq.size() != 4) return bad("no VAE (first_stage_model.*) tensors");
  s.vae.latent_channels = static_cast<int>(pq[0]);
  s.vae.layers_per_block = CkCountIndexed(f, v + "encoder.down.0.block.");
  s.vae.block_out_channels.clear();
  for (int i = 0; i < vn; ++i) {
    const auto ch = CkShape(f, v + "encoder.down." + std::to_string(i) + ".block.0.conv1.weight");
    if (ch.empty()) return bad("cannot read the VAE's block layout");
    s.vae.block_out_channels.push_back(static_cast<int>(ch[0]));
  }
  // Text encoder: SD 1.x's transformers CLIP or SD 2.x's OpenCLIP.
  std::string t1 = "cond_stage_model.transformer.text_model.";
  const std::string t2 = "cond_stage_model.model.";
  std::vector<int64_t> tok = CkShape(f, t1 + "embeddings.token_embedding.weight");
  if (tok.size() != 2) {
    const std::string legacy = "cond_stage_model.transformer.";
    if ((tok = CkShape(f, legacy + "embeddings.token_embedding.weight")).size() == 2) {
      s.clip_without_text_model = true;
      t1 = legacy;
    }
  }
  if (tok.size() == 2) {
    s.clip.num_hidden_layers = CkCountIndexed(f, t1 + "encoder.layers.");
    s.clip.max_position_embeddings =
        static_cast<int>(CkShape(f, t1 + "embeddings.position_embedding.weight").at(0));
    const auto fc1 = CkShape(f, t1 + "encoder.layers.0.mlp.fc1.weight");
    s.clip.intermediate_size = fc1.empty() ? 0 : static_cast<int>(fc1[0]);
  } else if ((tok = CkShape(f, t2 + "token_embedding.weight")).size() == 2) {
    s.open_clip = true;
    s.clip.num_hidden_layers = CkCountIndexed(f, t2 + "transformer.resblocks.");
    const auto pos = CkShape(f, t2 + "positional_embedding");
    s.clip.max_position_embeddings = pos.empty() ? 0 : static_cast<int>(pos[0]);
    const auto fc = CkShape(f, t2 + "transformer.resblocks.0.mlp.c_fc.weight");
    s.clip.intermediate_size = fc.empty() ? 0 : static_cast<int>(fc[0]);
    // OpenCLIP-H's last layer is never used (SD 2.x reads the penultimate): drop it, as
    // diffusers' converter does.
    if (tok[1] == 1024 && s.clip.num_hidden_layers == 24) s.clip.num_hidden_layers = 23;
  } else {
    return bad("no text encoder (cond_stage_model.transformer.* or cond_stage_model.model.*)");
  }
  s.clip.vocab_size = static_cast<int>(tok[0]);
  s.clip.hidden_size = static_cast<int>(tok[1]);
  if (s.clip.num_hidden_layers == 0 || s.clip.intermediate_size == 0 ||
      s.clip.max_position_embeddings == 0) {
    return bad("cannot read the text encoder's layout");
  }
  // Configs of the known families (what the weights do not say).
  CheckpointInfo& info = s.info;
  const bool sd2 = s.open_clip || s.unet.use_linear_projection;
  const int c0 = s.unet.block_out_channels[0];
  const bool full_size = c0 >= 320;
  info.clip.vocab_size = s.clip.vocab_size;
  info.clip.hidden_size = s.clip.hidden_size;
  info.clip.intermediate_size = s.clip.intermediate_size;
  info.clip.num_hidden_layers = s.clip.num_hidden_layers;
  info.clip.max_position_embeddings = s.clip.max_position_embeddings;
  info.clip.num_attention_heads = s.clip.hidden_size / (s.clip.hidden_size >= 512 ? 64 : 8);
  info.clip.hidden_act = s.open_clip ? "gelu" : "quick_gelu";
  info.clip.eos_token_id = s.clip.vocab_size - 1;
  UNetConfig& uc = info.unet;
  uc.in_channels = s.unet.in_channels;
  uc.out_channels = s.unet.out_channels;
  uc.sample_size = full_size ? 64 : 8;
  uc.block_out_channels = s.unet.block_out_channels;
  uc.down_block_types.clear();
  uc.up_block_types.clear();
  uc.attention_head_dim.clear();
  for (int i = 0; i < n; ++i) {
    uc.down_block_types.push_back(s.unet.cross_attention[i] ? "CrossAttnDownBlock2D"
                                                            : "DownBlock2D");
    uc.up_block_types.push_back(s.unet.cross_attention[n - 1 - i] ? "CrossAttnUpBlock2D"
                                                                  : "UpBlock2D");
    // SD 1.x: 8 heads per block; SD 2.x: 64-wide heads (16-wide in the tiny test models).
    const int head_width = full_size ? 64 : 16;
    uc.attention_head_dim.push_back(sd2 ? std::max(1, uc.block_out_channels[i] / head_width) : 8);
  }
  uc.layers_per_block = s.unet.layers_per_block;
  uc.cross_attention_dim = s.unet.cross_attention_dim;
  uc.use_linear_projection = s.unet.use_linear_projection;
  uc.norm_num_groups = full_size ? 32 : 8;
  info.vae.latent_channels = s.vae.latent_channels;
  info.vae.block_out_channels = s.vae.block_out_channels;
  info.vae.layers_per_block = s.vae.layers_per_block;
  info.vae.norm_num_groups = s.vae.block_out_channels[0] >= 128 ? 32 : 4;
  (void)config;
  return s;
}

StatusOr<fs::path> SingleTokenizerDir(const ImageModelConfig& config) {
  const fs::path dir = config.tokenizer_dir.empty()
                           ? fs::path(config.path).parent_path() / "tokenizer"
                           : fs::path(config.tokenizer_dir);
  if (!fs::exists(dir / "vocab.json") || !fs::exists(dir / "merges.txt")) {
    return Status::FailedPrecondition(
        "single-file checkpoint '" + config.path + "' needs CLIP's tokenizer: no vocab.json and " +
        "merges.txt in '" + dir.string() +
        "' (put them in a tokenizer/ folder beside the file, or set the model's tokenizer_dir)");
  }
  return dir;
}

StatusOr<std::shared_ptr<SafetensorsFile>> CkOpen(const std::string& path) {
  auto f = SafetensorsFile::Open(path);
  if (!f.ok()) {
    if (f.status().code() == StatusCode::kNotFound) {
      return Status::FailedPrecondition("checkpoint file '" + path + "' is missing");
    }
    return f.status();
  }
  return std::shared_ptr<SafetensorsFile>(std::move(*f));
}

Status CkCheckPath(const ImageModelConfig& config) {
  if (config.path.empty()) return Status::InvalidArgument("image model has no path");
  if (!fs::exists(config.path)) {
    return Status::NotFound("image model path '" + config.path + "' does not exist");
  }
  if (CkIsPickle(config.path)) {
    return Status::FailedPrecondition("checkpoint file '" + config.path + "'" + kPickleAdvice);
  }
  return Status::Ok();
}

// Moves the expected diffusers tensors of one network out of the single file's map.
Status TakeSingle(const WeightMap& all, const std::vector<TensorSpec>& specs,
                  const std::function<OriginalKey(const std::string&)>& key,
                  const std::string& path, WeightMap* out) {
  for (const TensorSpec& spec : specs) {
    const OriginalKey k = key(spec.name);
    auto t = all.Get(k.name);
    if (!t.ok()) {
      return Status::FailedPrecondition("single-file checkpoint '" + path + "': missing tensor '" +
                                        k.name + "'");
    }
    at::Tensor v = *t;
    if (k.slice >= 0) {
      if (v.dim() == 0 || v.size(0) != 3 * spec.shape[0]) {
        return Status::FailedPrecondition("single-file checkpoint '" + path + "': tensor '" +
                                          k.name + "' is not a fused q/k/v of " +
                                          std::to_string(spec.shape[0]) + " rows each");
      }
      v = v.chunk(3, 0)[k.slice];
    }
    if (k.conv1x1 && v.dim() == 4) v = v.flatten(1);
    if (v.sizes() != at::IntArrayRef(spec.shape)) {
      std::ostringstream os;
      os << "single-file checkpoint '" << path << "': tensor '" << k.name << "' has shape "
         << v.sizes() << ", expected " << at::IntArrayRef(spec.shape);
      return Status::FailedPrecondition(os.str());
    }
    out->Put(spec.name, v);
  }
  return Status::Ok();
}

StatusOr<Checkpoint> LoadSingle(const ImageModelConfig& config, at::ScalarType dtype) {
  BASALT_ASSIGN_OR_RETURN(auto file, CkOpen(config.path));
  BASALT_ASSIGN_OR_RETURN(SingleLayout s, InferSingle(*file, config));
  BASALT_RETURN_IF_ERROR(FinishInfo(config, &s.info));
  if (s.info.variant == "sd-turbo") s.info.scheduler.timestep_spacing = "trailing";
  Checkpoint ck;
  ck.info = s.info;
  BASALT_ASSIGN_OR_RETURN(fs::path tok_dir, SingleTokenizerDir(config));
  BASALT_ASSIGN_OR_RETURN(ck.tokenizer, ClipTokenizer::LoadDir(tok_dir.string()));
  ck.info.clip.eos_token_id = ck.tokenizer.eos_id();
  const auto clip_specs = ClipTensorSpecs(s.clip);
  const auto unet_specs = UNetTensorSpecs(s.unet);
  const auto vae_specs = VaeTensorSpecs(s.vae);
  auto unet_key = [&](const std::string& n) { return UNetOriginalKey(n, s.unet); };
  auto vae_key = [&](const std::string& n) { return VaeOriginalKey(n, s.vae); };
  auto clip_key = [&](const std::string& n) {
    OriginalKey k = ClipOriginalKey(n, s.open_clip);
    const std::string with = "cond_stage_model.transformer.text_model.";
    if (s.clip_without_text_model && k.name.compare(0, with.size(), with) == 0) {
      k.name = "cond_stage_model.transformer." + k.name.substr(with.size());
    }
    return k;
  };
  // Convert only what the networks use (full checkpoints also carry EMA copies and more).
  std::set<std::string> needed;
  for (const auto& sp : unet_specs) needed.insert(unet_key(sp.name).name);
  for (const auto& sp : vae_specs) needed.insert(vae_key(sp.name).name);
  for (const auto& sp : clip_specs) needed.insert(clip_key(sp.name).name);
  WeightMap all;
  all.set_description("single-file checkpoint '" + config.path + "'");
  BASALT_RETURN_IF_ERROR(all.Add(
      file, dtype, [&](const std::string& n) { return needed.count(n) ? n : std::string(); }));
  ck.unet.set_description("unet (" + config.path + ")");
  ck.vae.set_description("vae (" + config.path + ")");
  ck.text_encoder.set_description("text_encoder (" + config.path + ")");
  BASALT_RETURN_IF_ERROR(TakeSingle(all, unet_specs, unet_key, config.path, &ck.unet));
  BASALT_RETURN_IF_ERROR(TakeSingle(all, vae_specs, vae_key, config.path, &ck.vae));
  BASALT_RETURN_IF_ERROR(TakeSingle(all, clip_specs, clip_key, config.path, &ck.text_encoder));
  return ck;
}

}  // namespace

StatusOr<CheckpointInfo> ReadCheckpointInfo(const ImageModelConfig& config) {
  BASALT_RETURN_IF_ERROR(CkCheckPath(config));
  if (fs::is_directory(config.path)) return ReadDiffusersInfo(config);
  BASALT_ASSIGN_OR_RETURN(auto file, CkOpen(config.path));
  BASALT_ASSIGN_OR_RETURN(SingleLayout s, InferSingle(*file, config));
  BASALT_RETURN_IF_ERROR(FinishInfo(config, &s.info));
  return s.info;
}

StatusOr<Checkpoint> LoadCheckpoint(const ImageModelConfig& config, at::ScalarType dtype) {
  BASALT_RETURN_IF_ERROR(CkCheckPath(config));
  if (!fs::is_directory(config.path)) return LoadSingle(config, dtype);
  Checkpoint ck;
  BASALT_ASSIGN_OR_RETURN(ck.info, ReadDiffusersInfo(config));
  const fs::path root(config.path);
  BASALT_ASSIGN_OR_RETURN(ck.tokenizer, ClipTokenizer::LoadDir((root / "tokenizer").string()));
  struct Part {
    const char* dir;
    const char* base;
    WeightMap* map;
  };
  for (const Part& p : {Part{"text_encoder", "model", &ck.text_encoder},
                        Part{"unet", "diffusion_pytorch_model", &ck.unet},
                        Part{"vae", "diffusion_pytorch_model", &ck.vae}}) {
    BASALT_ASSIGN_OR_RETURN(fs::path weights, FindWeights(root / p.dir, p.base));
    BASALT_ASSIGN_OR_RETURN(auto file, CkOpen(weights.string()));
    p.map->set_description(std::string(p.dir) + " (" + weights.string() + ")");
    // Some exporters keep transformers' position_ids buffer: not a weight.
    BASALT_RETURN_IF_ERROR(p.map->Add(file, dtype, [](const std::string& n) {
      return n.size() > 13 && n.compare(n.size() - 13, 13, ".position_ids") == 0 ? std::string()
                                                                                 : n;
    }));
  }
  return ck;
}

}  // namespace basalt::image
