// The CLIP text encoder (transformers' CLIPTextModel) over ATen operations: token and position
// embeddings, pre-LayerNorm transformer layers with causal self-attention, a final LayerNorm.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "image/layers.h"
#include "image/models.h"

namespace basalt::image {

using layers::Linear;
using layers::Norm;

namespace {

enum class Activation { kQuickGelu, kGelu, kGeluTanh };

struct ClipLayer {
  Norm norm1, norm2;
  Linear qkv, out, fc1, fc2;
};

}  // namespace

struct ClipWeights {
  at::Tensor token_embedding, position_embedding;
  std::vector<ClipLayer> layers;
  Norm final_norm;
  Activation activation = Activation::kQuickGelu;
};

StatusOr<std::unique_ptr<ClipTextModel>> ClipTextModel::Create(const ClipConfig& config,
                                                               WeightMap w) {
  const ClipConfig& c = config;
  if (c.hidden_size < 1 || c.num_attention_heads < 1 || c.hidden_size % c.num_attention_heads ||
      c.num_hidden_layers < 1 || c.intermediate_size < 1 || c.vocab_size < 1 ||
      c.max_position_embeddings < 1) {
    return Status::FailedPrecondition(
        "text encoder config: hidden_size must be a positive multiple of num_attention_heads, "
        "and the layer, vocabulary and position counts positive");
  }
  auto net = std::make_shared<ClipWeights>();
  if (c.hidden_act == "quick_gelu") {
    net->activation = Activation::kQuickGelu;
  } else if (c.hidden_act == "gelu") {
    net->activation = Activation::kGelu;
  } else if (c.hidden_act == "gelu_new" || c.hidden_act == "gelu_pytorch_tanh") {
    net->activation = Activation::kGeluTanh;
  } else {
    return Status::FailedPrecondition("text encoder config: unsupported hidden_act '" +
                                      c.hidden_act + "'");
  }
  // The checkpoint's map keeps transformers' "text_model." prefix; bare names work too.
  const WeightMap m =
      w.Has("text_model.embeddings.token_embedding.weight") ? w.Sub("text_model") : w;
  const int64_t d = c.hidden_size;
  BASALT_ASSIGN_OR_RETURN(net->token_embedding,
                          m.Get("embeddings.token_embedding.weight", {c.vocab_size, d}));
  BASALT_ASSIGN_OR_RETURN(net->position_embedding, m.Get("embeddings.position_embedding.weight",
                                                         {c.max_position_embeddings, d}));
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    ClipLayer l;
    BASALT_ASSIGN_OR_RETURN(l.norm1,
                            layers::LoadNorm(m, p + "layer_norm1", d, 0, c.layer_norm_eps));
    BASALT_ASSIGN_OR_RETURN(l.norm2,
                            layers::LoadNorm(m, p + "layer_norm2", d, 0, c.layer_norm_eps));
    std::vector<Linear> qkv(3);
    BASALT_ASSIGN_OR_RETURN(qkv[0], layers::LoadLinear(m, p + "self_attn.q_proj", d, d));
    BASALT_ASSIGN_OR_RETURN(qkv[1], layers::LoadLinear(m, p + "self_attn.k_proj", d, d));
    BASALT_ASSIGN_OR_RETURN(qkv[2], layers::LoadLinear(m, p + "self_attn.v_proj", d, d));
    l.qkv = layers::Fuse(qkv);
    BASALT_ASSIGN_OR_RETURN(l.out, layers::LoadLinear(m, p + "self_attn.out_proj", d, d));
    BASALT_ASSIGN_OR_RETURN(l.fc1, layers::LoadLinear(m, p + "mlp.fc1", d, c.intermediate_size));
    BASALT_ASSIGN_OR_RETURN(l.fc2, layers::LoadLinear(m, p + "mlp.fc2", c.intermediate_size, d));
    net->layers.push_back(std::move(l));
  }
  BASALT_ASSIGN_OR_RETURN(net->final_norm,
                          layers::LoadNorm(m, "final_layer_norm", d, 0, c.layer_norm_eps));
  auto model = std::unique_ptr<ClipTextModel>(new ClipTextModel());
  model->config_ = config;
  model->w_ = std::move(w);
  model->net_ = std::move(net);
  return model;
}

at::Tensor ClipTextModel::Encode(const at::Tensor& ids, int skip_last_layers) const {
  const ClipWeights& n = *net_;
  const ClipConfig& c = config_;
  TORCH_CHECK(ids.dim() == 2 && ids.size(1) >= 1 && ids.size(1) <= c.max_position_embeddings,
              "ClipTextModel: ids must be [B, S] with 1 <= S <= ", c.max_position_embeddings,
              ", got ", ids.sizes());
  TORCH_CHECK(skip_last_layers >= 0 && skip_last_layers < c.num_hidden_layers,
              "ClipTextModel: skip_last_layers ", skip_last_layers, " outside [0, ",
              c.num_hidden_layers, ")");
  const at::Tensor flat = ids.to(at::kLong).reshape({-1});
  if (flat.numel() > 0) {
    TORCH_CHECK(flat.min().item<int64_t>() >= 0 && flat.max().item<int64_t>() < c.vocab_size,
                "ClipTextModel: token id outside [0, ", c.vocab_size, ")");
  }
  const int64_t b = ids.size(0), s = ids.size(1), d = c.hidden_size;
  const int64_t heads = c.num_attention_heads, hd = d / heads;
  at::Tensor x = n.token_embedding.index_select(0, flat).view({b, s, d}) +
                 n.position_embedding.narrow(0, 0, s);
  // Causal mask: position i attends to 0..i.
  const at::Tensor mask =
      at::full({s, s}, -std::numeric_limits<float>::infinity(), x.options()).triu_(1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const int run = c.num_hidden_layers - skip_last_layers;
  for (int i = 0; i < run; ++i) {
    const ClipLayer& l = n.layers[i];
    // [B, S, 3, heads, hd] -> [3, B, heads, S, hd]
    at::Tensor qkv = l.qkv(l.norm1(x)).view({b, s, 3, heads, hd}).permute({2, 0, 3, 1, 4});
    at::Tensor q = qkv[0].reshape({b * heads, s, hd});
    at::Tensor k = qkv[1].reshape({b * heads, s, hd});
    at::Tensor v = qkv[2].reshape({b * heads, s, hd});
    at::Tensor scores = at::baddbmm(mask, q, k.transpose(1, 2), 1.0, scale);
    at::Tensor p = at::softmax(scores, -1, at::kFloat).to(v.scalar_type());
    at::Tensor o = at::bmm(p, v).view({b, heads, s, hd}).permute({0, 2, 1, 3}).reshape({b, s, d});
    x = x + l.out(o);
    at::Tensor h = l.fc1(l.norm2(x));
    switch (n.activation) {
      case Activation::kQuickGelu:
        h = h * at::sigmoid(h * 1.702);
        break;
      case Activation::kGelu:
        h = at::gelu(h);
        break;
      case Activation::kGeluTanh:
        h = at::gelu(h, "tanh");
        break;
    }
    x = x + l.fc2(h);
  }
  return n.final_norm(x);
}

}  // namespace basalt::image
