//===- HFImporter.cpp - Hugging Face model directory -> qc IR -------------===//

#include "qc/Import/HFImporter.h"

#include "PrequantizedWeights.h"

#include "qc/Dialect/QC/IR/QCOps.h"
#include "qc/Import/QuantizationConfig.h"
#include "qc/Model/LlamaWeights.h"
#include "qc/Model/ModelConfig.h"
#include "qc/Model/WeightIndex.h"
#include "qc/Transforms/QuantScheme.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Path.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qc;

namespace {

FailureOr<RopeType> ropeTypeOf(StringRef name) {
  std::optional<RopeType> type = symbolizeRopeType(name);
  if (!type)
    return failure();
  return *type;
}

/// Emits one decoder graph; every op is located at the module path it
/// implements (e.g. "model.layers.3.mlp.down_proj") so diagnostics of later
/// passes name the layer.
class GraphBuilder {
public:
  GraphBuilder(OpBuilder &builder, const ::qc::ModelConfig &config,
               Type computeType, RopeAttr rope,
               const PrequantizedScheme *prequantized)
      : b(builder), config(config), dtype(computeType), rope(rope),
        prequantized(prequantized) {}

  Value weight(const std::string &name, ArrayRef<int64_t> shape) {
    return WeightOp::create(b, loc(name), RankedTensorType::get(shape, dtype),
                            name);
  }

  RankedTensorType activationType(int64_t features) {
    return RankedTensorType::get({ShapedType::kDynamic, features}, dtype);
  }

  Value linear(Value x, const std::string &module, int64_t n, int64_t k,
               bool hasBias) {
    Value bias = hasBias ? weight(module + ".bias", {n}) : Value();
    if (prequantized && !isSkippedModule(prequantized->options, module)) {
      auto type =
          QWeightType::get(b.getContext(), {n, k}, dtype, prequantized->scheme);
      Value w = WeightOp::create(b, loc(module), type, module);
      return QuantizedLinearOp::create(b, loc(module), activationType(n), x, w,
                                       bias);
    }
    Value w = weight(module + ".weight", {n, k});
    return LinearOp::create(b, loc(module), activationType(n), x, w, bias);
  }

  Value rmsNorm(Value x, const std::string &module) {
    Value w = weight(module + ".weight", {config.hiddenSize});
    return RMSNormOp::create(b, loc(module), x.getType(), x, w,
                             b.getF64FloatAttr(config.rmsNormEps));
  }

  Location loc(const std::string &name) {
    return NameLoc::get(b.getStringAttr(name));
  }

  /// One LlamaDecoderLayer: pre-norm attention and SwiGLU MLP, each added
  /// to the residual stream.
  Value decoderLayer(int64_t layer, Value hidden, Value positions,
                     Value &cache) {
    const auto &c = config;
    std::string prefix = "model.layers." + std::to_string(layer);
    int64_t qWidth = c.numAttentionHeads * c.headDim;
    int64_t kvWidth = c.numKeyValueHeads * c.headDim;

    Value x = rmsNorm(hidden, prefix + ".input_layernorm");
    std::string attn = prefix + ".self_attn";
    Value q =
        linear(x, attn + ".q_proj", qWidth, c.hiddenSize, c.attentionBias);
    Value k =
        linear(x, attn + ".k_proj", kvWidth, c.hiddenSize, c.attentionBias);
    Value v =
        linear(x, attn + ".v_proj", kvWidth, c.hiddenSize, c.attentionBias);
    q = RopeOp::create(b, loc(attn + ".rope_q"), q.getType(), q, positions,
                       c.numAttentionHeads, c.headDim, rope);
    k = RopeOp::create(b, loc(attn + ".rope_k"), k.getType(), k, positions,
                       c.numKeyValueHeads, c.headDim, rope);
    cache = KVCacheWriteOp::create(b, loc(attn + ".kv_cache"), cache.getType(),
                                   cache, layer, k, v, positions);
    IntegerAttr window =
        c.slidingWindow ? b.getI64IntegerAttr(*c.slidingWindow) : IntegerAttr();
    Value o = AttentionOp::create(
        b, loc(attn), q.getType(), q, cache, b.getI64IntegerAttr(layer),
        positions, b.getI64IntegerAttr(c.numAttentionHeads),
        b.getF64FloatAttr(1.0 / std::sqrt(double(c.headDim))), window);
    o = linear(o, attn + ".o_proj", c.hiddenSize, qWidth,
               c.attentionOutputBias);
    hidden = AddOp::create(b, loc(prefix + ".attn_residual"), hidden, o);

    x = rmsNorm(hidden, prefix + ".post_attention_layernorm");
    std::string mlp = prefix + ".mlp";
    int64_t inter = c.intermediateSize;
    Value gate = linear(x, mlp + ".gate_proj", inter, c.hiddenSize, c.mlpBias);
    Value up = linear(x, mlp + ".up_proj", inter, c.hiddenSize, c.mlpBias);
    Value act = SiluMulOp::create(b, loc(mlp + ".act_fn"), gate, up);
    Value down =
        linear(act, mlp + ".down_proj", c.hiddenSize, inter, c.mlpBias);
    return AddOp::create(b, loc(prefix + ".mlp_residual"), hidden, down);
  }

private:
  OpBuilder &b;
  const ::qc::ModelConfig &config;
  Type dtype;
  RopeAttr rope;
  const PrequantizedScheme *prequantized;
};

DictionaryAttr modelInfo(Builder &b, const ::qc::ModelConfig &c) {
  auto ids = [&](const std::vector<int64_t> &v) {
    return b.getI64ArrayAttr(v);
  };
  NamedAttrList info;
  info.append("architecture", b.getStringAttr(c.architecture));
  info.append("model_type", b.getStringAttr(c.modelType));
  info.append("vocab_size", b.getI64IntegerAttr(c.vocabSize));
  info.append("hidden_size", b.getI64IntegerAttr(c.hiddenSize));
  info.append("num_layers", b.getI64IntegerAttr(c.numHiddenLayers));
  info.append("max_position_embeddings",
              b.getI64IntegerAttr(c.maxPositionEmbeddings));
  info.append("tie_word_embeddings", b.getBoolAttr(c.tieWordEmbeddings));
  info.append("bos_token_ids", ids(c.bosTokenIds));
  info.append("eos_token_ids", ids(c.eosTokenIds));
  return info.getDictionary(b.getContext());
}

FailureOr<Type> computeTypeFor(MLIRContext &ctx, StringRef requested,
                               StringRef checkpointDtype, Location loc) {
  StringRef name = requested;
  if (name == "auto")
    name = llvm::StringSwitch<StringRef>(checkpointDtype)
               .Case("float32", "f32")
               .Case("bfloat16", "bf16")
               .Default("f16");
  if (name == "f32")
    return Type(Float32Type::get(&ctx));
  if (name == "f16")
    return Type(Float16Type::get(&ctx));
  if (name == "bf16")
    return Type(BFloat16Type::get(&ctx));
  return emitError(loc) << "unknown dtype '" << requested
                        << "' (expected auto, f32, f16 or bf16)";
}

} // namespace

FailureOr<OwningOpRef<ModuleOp>>
mlir::qc::buildModelGraph(MLIRContext &context, const ::qc::ModelConfig &c,
                          Type dtype, Location loc,
                          const PrequantizedScheme *prequantized) {
  context.loadDialect<QCDialect, func::FuncDialect>();
  auto emitDiag = [&] { return emitError(loc); };
  function_ref<InFlightDiagnostic()> diag = emitDiag;
  FailureOr<RopeType> ropeType = ropeTypeOf(c.rope.type);
  if (failed(ropeType))
    return diag() << "unsupported rope type '" << c.rope.type << "'";
  const ::qc::RopeConfig &r = c.rope;
  RopeAttr rope = RopeAttr::getChecked(
      diag, &context, *ropeType, APFloat(r.theta), APFloat(r.factor),
      APFloat(r.lowFreqFactor), APFloat(r.highFreqFactor),
      r.originalMaxPositionEmbeddings, APFloat(r.attentionFactor.value_or(0.0)),
      APFloat(r.betaFast), APFloat(r.betaSlow));
  if (!rope)
    return failure();
  auto cacheType = KVCacheType::getChecked(
      diag, &context, c.numHiddenLayers, c.numKeyValueHeads, c.headDim, dtype);
  if (!cacheType)
    return failure();

  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr("qc.model", modelInfo(b, c));
  b.setInsertionPointToEnd(module->getBody());

  auto ids = RankedTensorType::get({ShapedType::kDynamic}, b.getI32Type());
  auto logits = RankedTensorType::get({ShapedType::kDynamic, c.vocabSize},
                                      b.getF32Type());
  auto func = func::FuncOp::create(
      b, loc, "forward",
      b.getFunctionType({ids, ids, cacheType}, {logits, cacheType}));
  func.setArgAttr(0, "qc.name", b.getStringAttr("tokens"));
  func.setArgAttr(1, "qc.name", b.getStringAttr("positions"));
  func.setArgAttr(2, "qc.name", b.getStringAttr("kv_cache"));
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToStart(entry);

  GraphBuilder g(b, c, dtype, rope, prequantized);
  Value tokens = entry->getArgument(0), positions = entry->getArgument(1);
  Value cache = entry->getArgument(2);
  Value table =
      g.weight("model.embed_tokens.weight", {c.vocabSize, c.hiddenSize});
  Value hidden =
      EmbeddingOp::create(b, g.loc("model.embed_tokens"),
                          g.activationType(c.hiddenSize), table, tokens);
  for (int64_t layer = 0; layer < c.numHiddenLayers; ++layer)
    hidden = g.decoderLayer(layer, hidden, positions, cache);
  hidden = g.rmsNorm(hidden, "model.norm");
  Value head = c.tieWordEmbeddings
                   ? table
                   : g.weight("lm_head.weight", {c.vocabSize, c.hiddenSize});
  Value out = LMHeadOp::create(b, g.loc("lm_head"), logits, hidden, head);
  func::ReturnOp::create(b, loc, ValueRange{out, cache});

  if (failed(verify(*module)))
    return failure();
  return module;
}

FailureOr<OwningOpRef<ModuleOp>>
mlir::qc::importHFModel(MLIRContext &context, const std::string &modelDir,
                        const ImportOptions &options) {
  std::string configPath =
      (llvm::Twine(modelDir) + llvm::sys::path::get_separator() + "config.json")
          .str();
  // Input errors name their file and field themselves.
  Location loc = UnknownLoc::get(&context);
  auto config = ::qc::loadModelConfig(configPath);
  if (!config)
    return emitError(loc) << config.status().message();
  auto weights = ::qc::WeightIndex::open(modelDir);
  if (!weights)
    return emitError(loc) << weights.status().message();
  FailureOr<Type> dtype =
      computeTypeFor(context, options.dtype, config->torchDtype, loc);
  if (failed(dtype))
    return failure();

  if (!config->quantizationConfigJson) {
    if (::qc::Status valid = ::qc::validateWeights(*config, *weights); !valid)
      return emitError(loc) << valid.message();
    return buildModelGraph(context, *config, *dtype, loc, nullptr);
  }

  // A pre-quantized checkpoint: its quantization_config says how the linear
  // layers are stored; they are imported as they are, never re-quantized.
  auto emitDiag = [&] { return emitError(loc); };
  function_ref<InFlightDiagnostic()> diag = emitDiag;
  std::string awqLayout = "gemm";
  FailureOr<QCQuantizeOptions> quantOptions = parseQuantizationConfig(
      *config->quantizationConfigJson, configPath, loc, &awqLayout);
  if (failed(quantOptions))
    return failure();
  FailureOr<QuantSchemeAttrInterface> scheme =
      buildQuantScheme(&context, *quantOptions, diag);
  if (failed(scheme))
    return failure();
  if (failed(validatePrequantizedWeights(*config, *weights, *quantOptions,
                                         *scheme, awqLayout, diag)))
    return failure();
  PrequantizedScheme prequantized{*quantOptions, *scheme};
  auto module = buildModelGraph(context, *config, *dtype, loc, &prequantized);
  // The package writer converts the checkpoint's layout to qc's storage.
  if (succeeded(module) && isa<AWQAttr>(*scheme))
    (**module)->setAttr("qc.checkpoint.awq_layout",
                        StringAttr::get(&context, awqLayout));
  return module;
}
