"""Weight files: bit-exact round trip, clear errors, the shipped files are the default."""
import pytest
import torch

from vos_ros.engine.config import EngineConfig
from vos_ros.engine.learned import weights
from vos_ros.engine.learned.decoder import MaskDecoder
from vos_ros.engine.learned.prompt_encoder import PromptEncoder

CHANNELS = {4: 24, 8: 40, 16: 112}


def test_save_load_round_trip_is_bit_exact(tmp_path):
    torch.manual_seed(1)
    dec = MaskDecoder()
    weights.save(dec, tmp_path / "d.pt", "efficientnet_lite0", {"note": "test"})
    back = weights.load("decoder", tmp_path / "d.pt", "efficientnet_lite0", CHANNELS)
    for (k, a), (k2, b) in zip(dec.state_dict().items(), back.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert weights.record_of(tmp_path / "d.pt") == {"note": "test"}


def test_missing_file_names_the_file_and_the_command(tmp_path):
    with pytest.raises(weights.WeightFileError, match=r"nope\.pt.*vos-ros train"):
        weights.load("decoder", tmp_path / "nope.pt", "efficientnet_lite0", CHANNELS)


def test_corrupted_file_is_a_clear_error(tmp_path):
    path = tmp_path / "d.pt"
    weights.save(MaskDecoder(), path, "efficientnet_lite0", {})
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(weights.WeightFileError, match=r"d\.pt cannot be read.*vos-ros train"):
        weights.load("decoder", path, "efficientnet_lite0", CHANNELS)


def test_wrong_kind_and_wrong_backbone_are_refused(tmp_path):
    path = tmp_path / "p.pt"
    weights.save(PromptEncoder(), path, "efficientnet_lite0", {})
    with pytest.raises(weights.WeightFileError, match="not a vos_ros decoder weight file"):
        weights.load("decoder", path, "efficientnet_lite0", CHANNELS)
    with pytest.raises(weights.WeightFileError, match="trained for backbone efficientnet_lite0"):
        weights.load("prompt_encoder", path, "resnet18", {4: 64, 8: 128, 16: 256})


def test_settings_resolve_to_the_shipped_files():
    assert weights.resolve("decoder", "none") is None
    assert weights.resolve("decoder", "shipped") == weights.SHIPPED["decoder"]
    assert EngineConfig().decoder == "none" and EngineConfig().prompt_encoder == "shipped"


@pytest.mark.parametrize("kind", ["decoder", "prompt_encoder"])
def test_shipped_files_load_with_their_record(kind):
    module = weights.load(kind, weights.SHIPPED[kind], "efficientnet_lite0", CHANNELS)
    record = weights.record_of(weights.SHIPPED[kind])
    assert not module.training
    assert record["part"] == kind and record["data"].endswith("davis2016-train")
    assert "davis2016-dev" not in " ".join(record["train_sequences"] + record["val_sequences"])


def test_a_session_with_a_missing_file_fails_clearly(tmp_path):
    from vos_ros.engine.session import Segmenter
    with pytest.raises(weights.WeightFileError, match=r"decoder weights not found: .*mine\.pt"):
        Segmenter(EngineConfig(device="cpu", decoder=str(tmp_path / "mine.pt")))


def test_a_session_uses_a_user_trained_file(tmp_path):
    from vos_ros.engine.session import Segmenter
    weights.save(MaskDecoder(), tmp_path / "mine.pt", "efficientnet_lite0", {})
    seg = Segmenter(EngineConfig(device="cpu", decoder=str(tmp_path / "mine.pt"), prompt_encoder="none"))
    assert seg.decoder is not None and seg.prompt_encoder is None
