#include "image/sd_layout.h"

#include <sstream>

namespace basalt::image {

namespace {

using Shape = std::vector<int64_t>;

class SpecList {
 public:
  void Add(const std::string& name, Shape shape) { specs_.push_back({name, std::move(shape)}); }
  // weight + bias
  void Linear(const std::string& p, int64_t out, int64_t in, bool bias = true) {
    Add(p + ".weight", {out, in});
    if (bias) Add(p + ".bias", {out});
  }
  void Conv(const std::string& p, int64_t out, int64_t in, int64_t k) {
    Add(p + ".weight", {out, in, k, k});
    Add(p + ".bias", {out});
  }
  void Norm(const std::string& p, int64_t c) {
    Add(p + ".weight", {c});
    Add(p + ".bias", {c});
  }
  std::vector<TensorSpec> Take() { return std::move(specs_); }

 private:
  std::vector<TensorSpec> specs_;
};

std::vector<std::string> SplitName(const std::string& name) {
  std::vector<std::string> parts;
  std::stringstream ss(name);
  std::string p;
  while (std::getline(ss, p, '.')) parts.push_back(p);
  return parts;
}

std::string JoinFrom(const std::vector<std::string>& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

bool ParseIndex(const std::string& s, int* out) {
  if (s.empty() || s.size() > 6) return false;
  int v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// diffusers ResnetBlock2D member -> ldm ResBlock member.
std::string UNetResnetPart(const std::string& rest) {
  static const std::pair<const char*, const char*> kMap[] = {
      {"norm1", "in_layers.0"},  {"conv1", "in_layers.2"},  {"time_emb_proj", "emb_layers.1"},
      {"norm2", "out_layers.0"}, {"conv2", "out_layers.3"}, {"conv_shortcut", "skip_connection"}};
  const size_t dot = rest.find('.');
  const std::string head = rest.substr(0, dot);
  for (const auto& [from, to] : kMap) {
    if (head == from) return std::string(to) + rest.substr(dot);
  }
  return "";
}

std::string VaeResnetPart(const std::string& rest) {
  if (rest.rfind("conv_shortcut.", 0) == 0) return "nin_shortcut." + rest.substr(14);
  return rest;
}

}  // namespace

std::vector<TensorSpec> ClipTensorSpecs(const ClipShape& s) {
  SpecList l;
  const int h = s.hidden_size;
  l.Add("text_model.embeddings.token_embedding.weight", {s.vocab_size, h});
  l.Add("text_model.embeddings.position_embedding.weight", {s.max_position_embeddings, h});
  for (int i = 0; i < s.num_hidden_layers; ++i) {
    const std::string p = "text_model.encoder.layers." + std::to_string(i) + ".";
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      l.Linear(p + "self_attn." + proj, h, h);
    }
    l.Norm(p + "layer_norm1", h);
    l.Linear(p + "mlp.fc1", s.intermediate_size, h);
    l.Linear(p + "mlp.fc2", h, s.intermediate_size);
    l.Norm(p + "layer_norm2", h);
  }
  l.Norm("text_model.final_layer_norm", h);
  return l.Take();
}

std::vector<TensorSpec> UNetTensorSpecs(const UNetShape& s) {
  SpecList l;
  const auto& ch = s.block_out_channels;
  const int n = static_cast<int>(ch.size());
  const int64_t temb = 4LL * ch[0];
  auto resnet = [&](const std::string& p, int64_t cin, int64_t cout) {
    l.Norm(p + ".norm1", cin);
    l.Conv(p + ".conv1", cout, cin, 3);
    l.Linear(p + ".time_emb_proj", cout, temb);
    l.Norm(p + ".norm2", cout);
    l.Conv(p + ".conv2", cout, cout, 3);
    if (cin != cout) l.Conv(p + ".conv_shortcut", cout, cin, 1);
  };
  auto proj = [&](const std::string& p, int64_t c) {
    if (s.use_linear_projection) {
      l.Linear(p, c, c);
    } else {
      l.Conv(p, c, c, 1);
    }
  };
  auto attention = [&](const std::string& p, int64_t c) {
    l.Norm(p + ".norm", c);
    proj(p + ".proj_in", c);
    const std::string b = p + ".transformer_blocks.0.";
    l.Norm(b + "norm1", c);
    l.Linear(b + "attn1.to_q", c, c, false);
    l.Linear(b + "attn1.to_k", c, c, false);
    l.Linear(b + "attn1.to_v", c, c, false);
    l.Linear(b + "attn1.to_out.0", c, c);
    l.Norm(b + "norm2", c);
    l.Linear(b + "attn2.to_q", c, c, false);
    l.Linear(b + "attn2.to_k", c, s.cross_attention_dim, false);
    l.Linear(b + "attn2.to_v", c, s.cross_attention_dim, false);
    l.Linear(b + "attn2.to_out.0", c, c);
    l.Norm(b + "norm3", c);
    l.Linear(b + "ff.net.0.proj", 8 * c, c);  // GEGLU: value and gate
    l.Linear(b + "ff.net.2", c, 4 * c);
    proj(p + ".proj_out", c);
  };
  l.Conv("conv_in", ch[0], s.in_channels, 3);
  l.Linear("time_embedding.linear_1", temb, ch[0]);
  l.Linear("time_embedding.linear_2", temb, temb);
  int out = ch[0];
  for (int i = 0; i < n; ++i) {
    const int in = out;
    out = ch[i];
    const std::string p = "down_blocks." + std::to_string(i);
    for (int j = 0; j < s.layers_per_block; ++j) {
      resnet(p + ".resnets." + std::to_string(j), j == 0 ? in : out, out);
      if (s.cross_attention[i]) attention(p + ".attentions." + std::to_string(j), out);
    }
    if (i < n - 1) l.Conv(p + ".downsamplers.0.conv", out, out, 3);
  }
  const int last = ch[n - 1];
  resnet("mid_block.resnets.0", last, last);
  attention("mid_block.attentions.0", last);
  resnet("mid_block.resnets.1", last, last);
  out = last;
  for (int i = 0; i < n; ++i) {
    const int prev = out;
    out = ch[n - 1 - i];
    const int in = ch[n - 1 - std::min(i + 1, n - 1)];
    const bool cross = s.cross_attention[n - 1 - i];
    const std::string p = "up_blocks." + std::to_string(i);
    for (int j = 0; j <= s.layers_per_block; ++j) {
      const int skip = j == s.layers_per_block ? in : out;
      resnet(p + ".resnets." + std::to_string(j), (j == 0 ? prev : out) + skip, out);
      if (cross) attention(p + ".attentions." + std::to_string(j), out);
    }
    if (i < n - 1) l.Conv(p + ".upsamplers.0.conv", out, out, 3);
  }
  l.Norm("conv_norm_out", ch[0]);
  l.Conv("conv_out", s.out_channels, ch[0], 3);
  return l.Take();
}

std::vector<TensorSpec> VaeTensorSpecs(const VaeShape& s) {
  SpecList l;
  const auto& ch = s.block_out_channels;
  const int n = static_cast<int>(ch.size());
  auto resnet = [&](const std::string& p, int64_t cin, int64_t cout) {
    l.Norm(p + ".norm1", cin);
    l.Conv(p + ".conv1", cout, cin, 3);
    l.Norm(p + ".norm2", cout);
    l.Conv(p + ".conv2", cout, cout, 3);
    if (cin != cout) l.Conv(p + ".conv_shortcut", cout, cin, 1);
  };
  auto mid = [&](const std::string& p, int64_t c) {
    resnet(p + ".resnets.0", c, c);
    l.Norm(p + ".attentions.0.group_norm", c);
    for (const char* m : {"to_q", "to_k", "to_v", "to_out.0"}) {
      l.Linear(p + ".attentions.0." + m, c, c);
    }
    resnet(p + ".resnets.1", c, c);
  };
  const int last = ch[n - 1];
  l.Conv("encoder.conv_in", ch[0], s.in_channels, 3);
  int out = ch[0];
  for (int i = 0; i < n; ++i) {
    const int in = out;
    out = ch[i];
    const std::string p = "encoder.down_blocks." + std::to_string(i);
    for (int j = 0; j < s.layers_per_block; ++j) {
      resnet(p + ".resnets." + std::to_string(j), j == 0 ? in : out, out);
    }
    if (i < n - 1) l.Conv(p + ".downsamplers.0.conv", out, out, 3);
  }
  mid("encoder.mid_block", last);
  l.Norm("encoder.conv_norm_out", last);
  l.Conv("encoder.conv_out", 2 * s.latent_channels, last, 3);
  l.Conv("quant_conv", 2 * s.latent_channels, 2 * s.latent_channels, 1);
  l.Conv("post_quant_conv", s.latent_channels, s.latent_channels, 1);
  l.Conv("decoder.conv_in", last, s.latent_channels, 3);
  mid("decoder.mid_block", last);
  out = last;
  for (int i = 0; i < n; ++i) {
    const int prev = out;
    out = ch[n - 1 - i];
    const std::string p = "decoder.up_blocks." + std::to_string(i);
    for (int j = 0; j <= s.layers_per_block; ++j) {
      resnet(p + ".resnets." + std::to_string(j), j == 0 ? prev : out, out);
    }
    if (i < n - 1) l.Conv(p + ".upsamplers.0.conv", out, out, 3);
  }
  l.Norm("decoder.conv_norm_out", ch[0]);
  l.Conv("decoder.conv_out", s.out_channels, ch[0], 3);
  return l.Take();
}

OriginalKey UNetOriginalKey(const std::string& name, const UNetShape& s) {
  const std::string p = "model.diffusion_model.";
  const auto parts = SplitName(name);
  const int per = s.layers_per_block + 1;
  auto tail = [&](size_t from) { return JoinFrom(parts, from); };
  if (parts.size() < 2) return {};
  if (parts[0] == "conv_in") return {p + "input_blocks.0.0." + tail(1)};
  if (parts[0] == "time_embedding") {
    return {p + "time_embed." + (parts[1] == "linear_1" ? "0." : "2.") + tail(2)};
  }
  if (parts[0] == "conv_norm_out") return {p + "out.0." + tail(1)};
  if (parts[0] == "conv_out") return {p + "out.2." + tail(1)};
  int i = 0, j = 0;
  if (parts[0] == "mid_block" && parts.size() > 3 && ParseIndex(parts[2], &j)) {
    if (parts[1] == "resnets") {
      return {p + "middle_block." + (j == 0 ? "0." : "2.") + UNetResnetPart(tail(3))};
    }
    return {p + "middle_block.1." + tail(3)};
  }
  if (parts.size() < 5 || !ParseIndex(parts[1], &i) || !ParseIndex(parts[3], &j)) return {};
  if (parts[0] == "down_blocks") {
    if (parts[2] == "downsamplers") {
      return {p + "input_blocks." + std::to_string((i + 1) * per) + ".0.op." + tail(5)};
    }
    const std::string blk = p + "input_blocks." + std::to_string(i * per + j + 1);
    if (parts[2] == "resnets") return {blk + ".0." + UNetResnetPart(tail(4))};
    return {blk + ".1." + tail(4)};
  }
  if (parts[0] == "up_blocks") {
    const int n = static_cast<int>(s.block_out_channels.size());
    if (parts[2] == "upsamplers") {
      const bool cross = i < n && s.cross_attention[n - 1 - i];
      return {p + "output_blocks." + std::to_string(i * per + s.layers_per_block) +
              (cross ? ".2.conv." : ".1.conv.") + tail(5)};
    }
    const std::string blk = p + "output_blocks." + std::to_string(i * per + j);
    if (parts[2] == "resnets") return {blk + ".0." + UNetResnetPart(tail(4))};
    return {blk + ".1." + tail(4)};
  }
  return {};
}

OriginalKey VaeOriginalKey(const std::string& name, const VaeShape& s) {
  const std::string p = "first_stage_model.";
  const auto parts = SplitName(name);
  if (parts.size() < 2) return {};
  if (parts[0] == "quant_conv" || parts[0] == "post_quant_conv") return {p + name};
  const std::string& side = parts[0];  // encoder / decoder
  if (parts[1] == "conv_in" || parts[1] == "conv_out") return {p + name};
  if (parts[1] == "conv_norm_out") return {p + side + ".norm_out." + JoinFrom(parts, 2)};
  int i = 0, j = 0;
  if (parts[1] == "mid_block" && parts.size() > 4 && ParseIndex(parts[3], &j)) {
    if (parts[2] == "resnets") {
      return {p + side + ".mid.block_" + std::to_string(j + 1) + "." +
              VaeResnetPart(JoinFrom(parts, 4))};
    }
    // attentions.0.<member>.<weight|bias>
    std::string member = parts[4];
    size_t rest = 5;
    if (member == "group_norm") member = "norm";
    if (member == "to_q") member = "q";
    if (member == "to_k") member = "k";
    if (member == "to_v") member = "v";
    if (member == "to_out") member = "proj_out", rest = 6;
    const std::string leaf = JoinFrom(parts, rest);
    return {p + side + ".mid.attn_1." + member + "." + leaf, -1,
            member != "norm" && leaf == "weight"};
  }
  if (parts.size() < 6 || !ParseIndex(parts[2], &i) || !ParseIndex(parts[4], &j)) return {};
  if (parts[1] == "down_blocks") {
    if (parts[3] == "downsamplers") {
      return {p + "encoder.down." + std::to_string(i) + ".downsample." + JoinFrom(parts, 5)};
    }
    return {p + "encoder.down." + std::to_string(i) + ".block." + std::to_string(j) + "." +
            VaeResnetPart(JoinFrom(parts, 5))};
  }
  if (parts[1] == "up_blocks") {
    const int up = static_cast<int>(s.block_out_channels.size()) - 1 - i;
    if (parts[3] == "upsamplers") {
      return {p + "decoder.up." + std::to_string(up) + ".upsample." + JoinFrom(parts, 5)};
    }
    return {p + "decoder.up." + std::to_string(up) + ".block." + std::to_string(j) + "." +
            VaeResnetPart(JoinFrom(parts, 5))};
  }
  return {};
}

OriginalKey ClipOriginalKey(const std::string& name, bool open_clip) {
  if (!open_clip) return {"cond_stage_model.transformer." + name};
  const std::string p = "cond_stage_model.model.";
  if (name == "text_model.embeddings.token_embedding.weight") return {p + "token_embedding.weight"};
  if (name == "text_model.embeddings.position_embedding.weight")
    return {p + "positional_embedding"};
  const std::string fln = "text_model.final_layer_norm.";
  if (name.rfind(fln, 0) == 0) return {p + "ln_final." + name.substr(fln.size())};
  const auto parts = SplitName(name);
  // text_model.encoder.layers.<i>.<module...>.<weight|bias>
  int i = 0;
  if (parts.size() < 6 || parts[2] != "layers" || !ParseIndex(parts[3], &i)) return {};
  const std::string blk = p + "transformer.resblocks." + std::to_string(i) + ".";
  const std::string leaf = parts.back();
  const std::string module =
      JoinFrom(std::vector<std::string>(parts.begin() + 4, parts.end() - 1), 0);
  if (module == "self_attn.q_proj") return {blk + "attn.in_proj_" + leaf, 0};
  if (module == "self_attn.k_proj") return {blk + "attn.in_proj_" + leaf, 1};
  if (module == "self_attn.v_proj") return {blk + "attn.in_proj_" + leaf, 2};
  if (module == "self_attn.out_proj") return {blk + "attn.out_proj." + leaf};
  if (module == "layer_norm1") return {blk + "ln_1." + leaf};
  if (module == "layer_norm2") return {blk + "ln_2." + leaf};
  if (module == "mlp.fc1") return {blk + "mlp.c_fc." + leaf};
  if (module == "mlp.fc2") return {blk + "mlp.c_proj." + leaf};
  return {};
}

}  // namespace basalt::image
