"""The LM training script still runs, and the committed weights reproduce their stored validation loss."""
import json

import pytest
import torch

from benchmarks import train_lm
from linattn_edu import lm

# float32 sums over 256 x 128 = 32768 bytes: the stored loss was computed by the same code in float32,
# so re-evaluating on another BLAS / thread count changes only the summation order, a relative
# change of order sqrt(#terms) * 2^-24 ~ 1e-5 in the worst case; 1e-4 leaves room, and any change of
# weights, data or model code moves the loss by far more (the test below checks one such change).
LOSS_RTOL = 1e-4


def test_tiny_training_run(tmp_path):
    meta = train_lm.main(["--steps", "3", "--n-layers", "1", "--d-model", "16", "--n-heads", "2", "--n-ctx", "32",
                          "--batch-size", "4", "--val-slice", "8", "--val-full", "16", "--eval-every", "3",
                          "--threads", "1", "--out", str(tmp_path)])
    assert (tmp_path / "weights.pt").exists() and (tmp_path / "val_slice.bin").stat().st_size == 8 * 33
    model, stored, val = lm.load(tmp_path)
    assert stored == json.loads((tmp_path / "meta.json").read_text())
    assert lm.loss_on(model, val) == pytest.approx(meta["val_slice_loss"], rel=LOSS_RTOL)
    # three steps from a uniform start (loss log 256 = 5.545) must already lower the loss a little
    assert meta["history"][-1]["val_slice_loss"] < 5.545


def test_committed_weights_reproduce_stored_loss():
    torch.set_num_threads(1)
    model, meta, val = lm.load()
    assert val.shape == (meta["val_slice_windows"], meta["config"]["n_ctx"] + 1)
    loss = lm.loss_on(model, val)
    assert loss == pytest.approx(meta["val_slice_loss"], rel=LOSS_RTOL)
    for key in ("command", "date", "machine", "torch", "train_seconds", "val_loss"):
        assert key in meta
    # a trained byte model is far below the uniform 5.55 nats/byte
    assert meta["val_loss"] < 2.0
    # the check is sensitive: perturbing one weight matrix by 1 % moves the loss beyond the tolerance
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight.mul_(1.01)
    assert abs(lm.loss_on(model, val) - meta["val_slice_loss"]) > LOSS_RTOL * meta["val_slice_loss"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="d_model must be a multiple of n_heads"):
        lm.LMConfig(d_model=10, n_heads=3)
    with pytest.raises(ValueError, match="split"):
        lm.corpus("test")
    model = lm.ByteLM(dict(n_layers=2, d_model=8, n_heads=2, n_ctx=8))
    with pytest.raises(ValueError, match="attention must be one function or a list of 2"):
        model(torch.zeros(1, 4, dtype=torch.long), attention=[None])
    with pytest.raises(ValueError, match="idx must be"):
        model(torch.zeros(1, 9, dtype=torch.long))
