"""The mask decoder and the prompt encoder: shapes, per-object independence, prompt maps."""
import numpy as np
import pytest
import torch

from vos_ros.engine.learned.decoder import DecoderShape, MaskDecoder
from vos_ros.engine.learned.prompt_encoder import Prompt, PromptEncoder


def _levels(h=64, w=96, n=1):
    torch.manual_seed(0)
    return {4: torch.randn(n, 24, h // 4, w // 4), 8: torch.randn(n, 40, h // 8, w // 8),
            16: torch.randn(n, 112, h // 16, w // 16)}


def test_decoder_output_at_stride_4_for_every_object():
    dec = MaskDecoder().eval()
    scores = torch.rand(3, 1, 8, 12)
    with torch.no_grad():
        out = dec(_levels(), scores)
    assert out.shape == (3, 1, 16, 24)


def test_decoder_objects_are_decoded_independently():
    dec = MaskDecoder().eval()
    levels = _levels()
    scores = torch.rand(2, 1, 8, 12)
    with torch.no_grad():
        both = dec(levels, scores)
        first = dec(levels, scores[:1])
    torch.testing.assert_close(both[:1], first, rtol=1e-5, atol=1e-5)


def test_decoder_depends_on_the_scores():
    dec = MaskDecoder().eval()
    levels = _levels()
    with torch.no_grad():
        a = dec(levels, torch.zeros(1, 1, 8, 12))
        b = dec(levels, torch.ones(1, 1, 8, 12))
    assert not torch.allclose(a, b)


def test_shape_round_trips_through_dict():
    shape = DecoderShape(width16=32)
    assert DecoderShape.from_dict(shape.to_dict()) == shape


def test_prompt_maps_box_and_clicks():
    prompt = Prompt((160, 320), box=(80, 40, 160, 80), positive=((160, 80),), negative=((10, 10),))
    maps = prompt.maps((10, 20), sigma=1.0)
    assert maps.shape == (3, 10, 20)
    assert maps[0, 5, 10] == 1.0 and maps[0, 0, 0] == 0.0  # inside / outside the box
    assert np.unravel_index(maps[1].argmax(), (10, 20)) in {(4, 9), (4, 10), (5, 9), (5, 10)}
    assert maps[2, 0, 0] > 0.5 and maps[2, 9, 19] < 1e-3


def test_prompt_encoder_score_map_at_stride_8():
    enc = PromptEncoder().eval()
    levels = _levels()
    prompt = Prompt((64, 96), box=(10, 10, 40, 30))
    with torch.no_grad():
        scores = enc(levels, enc.prompt_maps([prompt, prompt], levels))
    assert scores.shape == (2, 1, 8, 12)
    assert float(scores.min()) >= 0 and float(scores.max()) <= 1


@pytest.mark.parametrize("bad", [(1, 2, 3), "xy"])
def test_prompt_maps_reject_nothing_silently(bad):
    # points are validated by the Segmenter; the map builder expects pairs
    with pytest.raises((TypeError, ValueError)):
        Prompt((64, 96), positive=(bad,)).maps((4, 6), 1.0)


def test_an_encoding_decoder_reads_several_channels_without_the_score_prior():
    dec = MaskDecoder(DecoderShape(score_channels=16)).eval()
    assert not hasattr(dec, "score_gain")
    with torch.no_grad():
        out = dec(_levels(), torch.randn(2, 16, 4, 6))
    assert out.shape == (2, 1, 16, 24)
    assert torch.count_nonzero(out) == 0  # zero-initialised head and no log-odds prior


def test_the_shipped_decoder_still_loads_as_a_one_channel_decoder():
    from vos_ros.engine.learned import weights

    payload = torch.load(weights.SHIPPED["decoder"], map_location="cpu", weights_only=True)
    assert "score_channels" not in payload["shape"]  # written before the field existed
    dec = weights.load("decoder", weights.SHIPPED["decoder"], "efficientnet_lite0", {4: 24, 8: 40, 16: 112})
    assert dec.shape.score_channels == 1 and set(dec.state_dict()) == set(payload["state_dict"])
