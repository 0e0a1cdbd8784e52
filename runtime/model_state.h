// Moving a model's weights (and the optimizer's momentum) in and out of a Checkpoint.
#pragma once
#include "runtime/checkpoint.h"
#include "runtime/model.h"
#include "runtime/optimizer.h"

namespace rampart {

// Copies parameters and buffers into ck.model, and momentum into ck.optimizer when given.
void store_model(const Model& model, const Sgd* sgd, Checkpoint& ck);

// Loads ck.model into the model (and ck.optimizer into sgd when given); every
// parameter must be present with exactly its shape, and every array must belong to a layer,
// else DataError naming it.
void load_model(const Checkpoint& ck, Model& model, Sgd* sgd);

// Builds a model from a checkpoint's arch_json and loads its weights.
// input: [C, H, W] of the data it will see.
Model model_from_checkpoint(const Checkpoint& ck, const Shape& input);

}  // namespace rampart
