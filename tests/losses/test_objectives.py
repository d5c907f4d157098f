"""Objectives: wiring of queries, targets and terms, on an oracle separator and a tiny model."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from asteroid_wsas.data import SingleSources, mixture_of_mixtures
from asteroid_wsas.encoders import BimodalEncoder
from asteroid_wsas.losses import (
    MixAndSeparateObjective,
    MixITObjective,
    SemiSupervisedObjective,
    SupervisedObjective,
    WeakObjective,
    make_objective,
)
from tests.helpers import tiny_encoder, tiny_unet, weak_items

SR = 8000
CAPTIONS = [["mixture one", "mixture two"]]
PHRASES = [[["dog barks", "rain falls"], ["car passes", "bell rings"]]]
VOCAB = [c for c in CAPTIONS[0]] + [p for group in PHRASES[0] for p in group]


class TableEncoder(BimodalEncoder):
    """One-hot text embeddings of a fixed vocabulary; a small differentiable audio tower."""

    sample_rate, embed_dim, token_dim = SR, 8, 4

    def __init__(self, sources=None):
        super().__init__()
        self.proj = nn.Linear(64, self.embed_dim)
        self.sources = sources  # (4, T): if given, audio is embedded by its best-matching source

    @property
    def logit_scale(self) -> float:
        return 10.0

    def _encode_text(self, phrases):
        idx = torch.tensor([VOCAB.index(p) for p in phrases])
        embed = F.one_hot(idx, self.embed_dim).float()
        return embed, torch.zeros(len(phrases), 1, self.token_dim), torch.ones(len(phrases), 1, 1)

    def embed_audio(self, wav, sample_rate):
        if self.sources is None:
            frames = wav.unfold(-1, 64, 64).abs().mean(-2)
            return F.normalize(self.proj(frames), dim=-1)
        # an ideal audio tower: normalised correlation with each phrase's true source
        corr = F.normalize(wav, dim=-1) @ F.normalize(self.sources, dim=-1).T
        embed = F.pad(corr.clamp_min(0) ** 4, (2, self.embed_dim - 2 - corr.shape[-1]))
        return F.normalize(embed + 1e-6, dim=-1)


class OracleSeparator(nn.Module):
    """Answers each query (a one-hot embedding) with a stored mask: no learning involved."""

    wants_tokens = False  # conditioned on the pooled embedding alone
    learned_queries = None

    def __init__(self, masks):
        super().__init__()
        self.unet = tiny_unet()
        self.sample_rate = SR
        self.masks = masks  # vocabulary index -> (F, frames)
        self.calls = 0

    def stft(self, wav):
        return self.unet.stft(wav)

    def istft(self, spec, length):
        return self.unet.istft(spec, length)

    def forward_masks(self, mix, embed, tokens=None, mask=None):
        self.calls += 1
        idx = embed.argmax(-1)
        masks = torch.stack([torch.stack([self.masks[int(i)] for i in row]) for row in idx])
        return masks, self.stft(mix)

    def forward(self, mix, embed, tokens=None, mask=None):
        masks, spec = self.forward_masks(mix, embed)
        return self.istft(masks * spec.unsqueeze(1), mix.shape[-1])


def oracle_batch(seed=0):
    """Two mixtures of two sources each, and oracle masks for every query."""
    gen = torch.Generator().manual_seed(seed)
    sources = torch.randn(2, 2, 4000, generator=gen)
    mixtures = sources.sum(1)  # (N, T)
    mix = mixtures.sum(0)
    unet = tiny_unet()
    mix_mag = unet.stft(mix).abs().clamp_min(1e-8)
    mixture_masks = unet.stft(mixtures).abs() / mix_mag
    source_mags = unet.stft(sources).abs()
    shares = source_mags / source_mags.sum(1, keepdim=True).clamp_min(1e-8)
    masks = {0: mixture_masks[0], 1: mixture_masks[1]}
    for n in range(2):
        for k in range(2):  # phrase masks that add up to their mixture's mask
            masks[2 + 2 * n + k] = mixture_masks[n] * shares[n, k]
    batch = {
        "mix": mix[None],
        "mixtures": mixtures[None],
        "captions": CAPTIONS,
        "phrases": PHRASES,
        "phrase_weights": torch.ones(1, 2, 2),
    }
    return batch, masks, sources.flatten(0, 1)


def test_weak_objective_is_minimal_for_oracle_masks_and_worse_for_swapped_captions():
    batch, masks, sources = oracle_batch()
    encoder = TableEncoder().freeze()
    objective = WeakObjective()
    terms = objective(OracleSeparator(masks), encoder, batch)
    assert terms["url"].item() < 1e-5 and terms["crl"].item() < 1e-5
    assert set(terms) == {"loss", "cnt", "crl", "url"}
    total = 0.5 * terms["cnt"] + 5 * (terms["crl"] + terms["url"])
    assert terms["loss"].item() == pytest.approx(total.item())

    swapped = dict(masks)
    swapped[0], swapped[1] = masks[1], masks[0]  # each caption gets the other mixture
    worse = objective(OracleSeparator(swapped), encoder, batch)
    assert worse["url"] > 0.05 and worse["crl"].item() < 1e-5

    wrong_parts = dict(masks)
    wrong_parts[2], wrong_parts[4] = masks[4], masks[2]  # phrases swapped across mixtures
    assert objective(OracleSeparator(wrong_parts), encoder, batch)["crl"] > 0.05


def test_weak_objective_asks_every_query_in_one_model_call_and_caches_the_text():
    items = weak_items(4, n_phrases=3)
    batch = mixture_of_mixtures([items[i] for i in range(4)])  # B = 2, N = 2, P = 3
    texts = [c for cs in batch["captions"] for c in cs]
    texts += [p for item in batch["phrases"] for g in item for p in g]
    encoder = tiny_encoder(texts).freeze()
    model = tiny_unet()
    seen = []
    real = model.forward_masks
    model.forward_masks = lambda *a, **k: seen.append(a[1].shape) or real(*a, **k)
    terms = WeakObjective()(model, encoder, batch)
    assert seen == [torch.Size([2, 2 + 2 * 3, 16])]  # one call: N captions + N*P phrases
    misses = encoder.cache_stats()["misses"]
    WeakObjective()(model, encoder, batch)
    assert encoder.cache_stats()["misses"] == misses  # second step: all text from the cache
    terms["loss"].backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0
    assert all(p.grad is None for p in encoder.parameters())


def test_contrastive_term_falls_when_estimates_match_their_phrases():
    batch, masks, sources = oracle_batch()
    encoder = TableEncoder(sources).freeze()
    right = WeakObjective()(OracleSeparator(masks), encoder, batch)["cnt"]
    mixed = dict(masks)
    mixed[2], mixed[3], mixed[4], mixed[5] = masks[3], masks[4], masks[5], masks[2]
    wrong = WeakObjective()(OracleSeparator(mixed), encoder, batch)["cnt"]
    assert right < 0.5 * wrong


def test_mix_and_separate_and_supervised_losses():
    batch, masks, sources = oracle_batch()
    encoder = TableEncoder().freeze()
    for loss in ("mag_l1", "si_sdr"):
        objective = MixAndSeparateObjective(loss=loss)
        right = objective(OracleSeparator(masks), encoder, batch)
        swapped = dict(masks)
        swapped[0], swapped[1] = masks[1], masks[0]
        wrong = objective(OracleSeparator(swapped), encoder, batch)
        assert right["loss"] < wrong["loss"], loss
        if loss == "mag_l1":
            assert right["mag_l1"].item() < 1e-5
        else:
            assert right["si_sdr"].item() < 0  # positive SI-SDR (magnitudes + mixture phase)


def test_supervised_refuses_mixture_only_batches():
    items = weak_items(4)
    weak_batch = mixture_of_mixtures([items[i] for i in range(4)])
    encoder = tiny_encoder(["x"]).freeze()
    with pytest.raises(ValueError, match="clean single-source items"):
        SupervisedObjective()(tiny_unet(), encoder, weak_batch)
    clean = SingleSources(items.dataset)
    clean_batch = mixture_of_mixtures([clean[i] for i in range(4)])
    texts = [c for cs in clean_batch["captions"] for c in cs]
    terms = SupervisedObjective()(tiny_unet(), tiny_encoder(texts).freeze(), clean_batch)
    assert torch.isfinite(terms["loss"])


def test_semi_is_the_weighted_sum_of_its_parts():
    items = weak_items(4)
    clean = SingleSources(items.dataset)
    batch = {
        "clean": mixture_of_mixtures([clean[i] for i in range(4)]),
        "weak": mixture_of_mixtures([items[i] for i in range(4)]),
    }
    texts = [c for b in batch.values() for cs in b["captions"] for c in cs]
    texts += [p for item in batch["weak"]["phrases"] for g in item for p in g]
    encoder, model = tiny_encoder(texts).freeze(), tiny_unet().eval()
    terms = SemiSupervisedObjective(lambda_s=0.3, lambda_u=2.0)(model, encoder, batch)
    expected = 0.3 * terms["sup"].item() + 2 * terms["weak"].item()
    assert terms["loss"].item() == pytest.approx(expected)
    assert {"sup_mag_l1", "weak_cnt", "weak_crl", "weak_url"} <= set(terms)


def test_mixit_finds_the_best_partition_of_the_models_learned_outputs():
    batch, masks, sources = oracle_batch()
    model = tiny_unet()
    objective = make_objective("mixit", model, n_outputs=4)
    assert len(model.learned_queries) == 4 and objective.n_outputs == 4
    outs = sources.unsqueeze(0)  # the true sources as outputs
    seen = {}

    def forward(mix, embed, tokens=None, mask=None):
        seen["embed"] = embed
        return outs[:, [2, 0, 3, 1]]  # shuffled heads

    model.forward = forward
    terms = objective(model, None, batch)
    assert terms["neg_snr"] < -15  # the right partition rebuilds both mixtures
    # the model was asked with its own learned queries, one set per mixture of mixtures
    assert torch.equal(seen["embed"][0], model.learned_queries.embed)
    with pytest.raises(ValueError, match="needs a model with 3 learned queries"):
        MixITObjective(n_outputs=3)(model, None, batch)


def test_mixit_trains_the_learned_queries_with_the_model():
    model = tiny_unet()
    objective = make_objective("mixit", model, n_outputs=3)
    batch = mixture_of_mixtures([weak_items(4)[i] for i in range(4)])
    objective(model, None, batch)["loss"].backward()
    assert model.learned_queries.embed.grad.abs().sum() > 0
    assert model.learned_queries.tokens.grad.abs().sum() > 0
    args = model.get_model_args()
    assert args["n_learned_queries"] == 3
    again = type(model)(**args)
    again.load_state_dict(model.state_dict())  # the queries are part of the model's state


def test_make_objective_and_bad_configuration():
    assert make_objective("weak", symmetric=True).cnt.symmetric
    semi = make_objective("semi", supervised={"loss": "si_sdr"}, weak={"cnt_weight": 1.0})
    assert semi.supervised.loss_type == "si_sdr" and semi.weak.cnt_weight == 1.0
    model = tiny_unet()
    make_objective("mixit", model)
    assert model.learned_queries.embed.shape == (4, 16)
    with pytest.raises(ValueError, match="has 4 learned queries, not 2"):
        make_objective("mixit", model, n_outputs=2)
    with pytest.raises(ValueError, match="objective must be one of"):
        make_objective("no_such_objective")
    with pytest.raises(ValueError, match="needs the model"):
        make_objective("mixit")
    with pytest.raises(ValueError, match="loss must be one of"):
        MixAndSeparateObjective(loss="l2")
    with pytest.raises(KeyError, match="phrase_weights"):
        WeakObjective()(tiny_unet(), None, {"mix": torch.zeros(1, 10)})


def test_repeated_phrases_go_through_the_audio_tower_once_with_the_same_loss():
    batch, masks, sources = oracle_batch()
    batch = dict(batch, phrases=[[["dog barks", "dog barks"], ["car passes", "bell rings"]]])
    batch["phrase_weights"] = torch.tensor([[[0.5, 0.5], [1.0, 1.0]]])
    encoder = TableEncoder(sources).freeze()
    rows = []
    real = encoder.embed_audio
    encoder.embed_audio = lambda wav, sr: rows.append(wav.shape[0]) or real(wav, sr)
    model = OracleSeparator(masks)
    terms = WeakObjective()(model, encoder, batch)
    assert rows == [3]  # 4 phrase rows, 3 distinct (item, phrase) pairs

    # the same value as embedding every row, repeated one included
    texts = WeakObjective.query_texts(batch)
    embed = encoder.encode_text([t for item in texts for t in item])[0][None]
    m, spec = model.forward_masks(batch["mix"], embed)
    wavs = model.istft(m[:, 2:] * spec.unsqueeze(1), batch["mix"].shape[-1])
    audio = real(wavs.flatten(0, 1), SR)
    loss = WeakObjective().cnt
    weights = torch.tensor([0.5, 0.5, 0.5, 0.5])
    ids = torch.tensor([0, 0, 1, 2])
    expected = 2 * loss(audio, embed[0, 2:], encoder.logit_scale, weights, ids)
    assert terms["cnt"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_pit_is_permutation_invariant_over_the_models_learned_outputs():
    gen = torch.Generator().manual_seed(0)
    sources = torch.randn(3, 2, 4000, generator=gen)
    batch = {"mix": sources.sum(1), "mixtures": sources}
    model = tiny_unet()
    objective = make_objective("pit", model)
    assert objective.selection == "assignment" and len(model.learned_queries) == 2
    model.forward = lambda mix, embed, tokens=None, mask=None: sources.flip(1)  # swapped
    exact = objective(model, None, batch)["neg_sisdr"]
    assert exact < -60  # the best permutation of swapped outputs: exact
    model.forward = lambda mix, embed, tokens=None, mask=None: sources[:, [0, 0]]
    twice = objective(model, None, batch)["neg_sisdr"]
    assert twice > exact + 20  # one source twice: no order makes it right
    with pytest.raises(ValueError, match="mixtures of 3 sources"):
        make_objective("pit", tiny_unet(), n_outputs=3)(model, None, batch)


def test_mixpit_separates_the_mixtures_of_a_mixture_of_mixtures_under_pit():
    gen = torch.Generator().manual_seed(1)
    mixtures = torch.randn(2, 2, 4000, generator=gen)  # each item: two mixtures, no sources
    batch = {"mix": mixtures.sum(1), "mixtures": mixtures, "captions": [["a", "b"]] * 2}
    model = tiny_unet()
    objective = make_objective("mixpit", model)
    assert objective.batches == ("weak",) and objective.selection == "assignment"
    assert len(model.learned_queries) == 2
    model.forward = lambda mix, embed, tokens=None, mask=None: mixtures.flip(1)
    assert objective(model, None, batch)["neg_sisdr"] < -60
    model.forward = lambda mix, embed, tokens=None, mask=None: mix[:, None].repeat(1, 2, 1)
    assert objective(model, None, batch)["neg_sisdr"] > -10  # the unseparated input
    with pytest.raises(KeyError, match="mixtures"):
        objective(model, None, {"mix": batch["mix"]})


@pytest.mark.parametrize("name", ["pit", "mixpit"])
def test_pit_learns_a_toy_case_and_beats_the_mixture(name):
    from asteroid_wsas.metrics import separation_metrics
    from asteroid_wsas.separator import separate_batch

    t = torch.arange(4000) / SR
    low = torch.sin(2 * torch.pi * 300 * t) * (0.5 + 0.5 * torch.sin(2 * torch.pi * 3 * t))
    high = 0.5 * torch.sin(2 * torch.pi * 2200 * t)
    sources = torch.stack([low, high])[None].repeat(4, 1, 1)
    sources = sources * torch.linspace(0.6, 1.4, 4)[:, None, None]
    batch = {"mix": sources.sum(1), "mixtures": sources}
    torch.manual_seed(0)
    model = tiny_unet()
    # PIT: the clean sources; MixPIT: the same signals as the two "mixtures" of a weak batch
    objective = make_objective(name, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = objective(model, None, batch)["loss"]
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0] - 3  # at least 3 dB of SI-SDR gained
    model.eval()
    with torch.no_grad():
        est = separate_batch(
            model, None, batch["mix"], [["a", "b"]] * 4, references=sources, selection="assignment"
        )
    scores = separation_metrics(batch["mix"], sources, est)
    assert float(scores["sdri"].mean()) > 3  # above the unprocessed mixture


def _slot_reference(audio, text, scale, n_batch, n_mix, n_phrases):
    """The authors' L_CNT from its equation, in float64 loops: for each mixture slot n, the
    B * P phrases of slot n (n-th mixture of every item) are rows; row i's logits are
    scale * <a_i, t_j> over the slot's rows j, target its own phrase; cross-entropy averaged
    over the slot's rows (every row weighted equally, copies of a phrase are negatives);
    summed over n."""
    a, t = audio.double(), text.double()
    total = 0.0
    for n in range(n_mix):
        rows = [
            b * n_mix * n_phrases + n * n_phrases + k
            for b in range(n_batch)
            for k in range(n_phrases)
        ]
        slot = 0.0
        for i in rows:
            logits = [scale * float(a[i] @ t[j]) for j in rows]
            top = max(logits)
            log_sum = top + torch.tensor([v - top for v in logits]).exp().sum().log().item()
            slot += log_sum - scale * float(a[i] @ t[i])
        total += slot / len(rows)
    return total


def test_authors_contrastive_loss_is_one_cross_entropy_per_mixture_slot():
    gen = torch.Generator().manual_seed(3)
    n_batch, n_mix, n_phrases = 3, 2, 2
    rows = n_batch * n_mix * n_phrases
    audio = F.normalize(torch.randn(rows, 8, generator=gen), dim=-1)
    text = F.normalize(torch.randn(rows, 8, generator=gen), dim=-1)
    # a padded phrase (row 1 repeats row 0) and a phrase shared by two items (rows 2, 6)
    phrases = [f"p{i}" for i in range(rows)]
    phrases[1], phrases[6] = phrases[0], phrases[2]
    text[1], text[6] = text[0], text[2]
    weights = torch.tensor([0.5, 0.5] + [1.0] * (rows - 2)) / 2
    theirs = WeakObjective(cnt_negatives="slot", cnt_text_mask=False, cnt_row_weights=False)
    got = theirs.contrastive(audio, text, 7.0, phrases, weights, (n_batch, n_mix, n_phrases))
    expected = _slot_reference(audio, text, 7.0, n_batch, n_mix, n_phrases)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # ours differs: pooled negatives, copies masked, rows weighted
    ours = WeakObjective().contrastive(audio, text, 7.0, phrases, weights, (3, 2, 2))
    assert abs(ours.item() - expected) > 0.1
    # each refinement alone changes the value (they are separate options)
    for option in ("cnt_text_mask", "cnt_row_weights"):
        one = WeakObjective(cnt_negatives="slot", cnt_text_mask=False, cnt_row_weights=False)
        setattr(one, option, True)
        value = one.contrastive(audio, text, 7.0, phrases, weights, (3, 2, 2)).item()
        assert abs(value - expected) > 1e-3, option
    with pytest.raises(ValueError, match="cnt_negatives must be one of"):
        WeakObjective(cnt_negatives="all")


def test_replica_batch_averages_the_loss_of_each_devices_own_rows():
    """The authors' 8 DDP processes each compute L_CNT on their own 2 mixtures of mixtures
    (negatives: those of the same process), and DDP averages the gradients."""
    gen = torch.Generator().manual_seed(4)
    n_batch, n_mix, n_phrases, replica = 4, 2, 3, 2
    rows = n_batch * n_mix * n_phrases
    audio = F.normalize(torch.randn(rows, 8, generator=gen), dim=-1)
    text = F.normalize(torch.randn(rows, 8, generator=gen), dim=-1)
    phrases = [f"p{i}" for i in range(rows)]
    weights = torch.full((rows,), 1 / n_phrases)
    theirs = WeakObjective(
        cnt_negatives="slot", cnt_text_mask=False, cnt_row_weights=False, replica_batch=replica
    )
    got = theirs.contrastive(audio, text, 5.0, phrases, weights, (n_batch, n_mix, n_phrases))
    size = replica * n_mix * n_phrases
    expected = sum(
        _slot_reference(audio[s : s + size], text[s : s + size], 5.0, replica, n_mix, n_phrases)
        for s in range(0, rows, size)
    ) / (n_batch // replica)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    whole = _slot_reference(audio, text, 5.0, n_batch, n_mix, n_phrases)
    assert abs(whole - expected) > 1e-3  # fewer negatives: another value
    with pytest.raises(ValueError, match="replica_batch=3"):
        WeakObjective(replica_batch=3).contrastive(audio, text, 5.0, phrases, weights, (4, 2, 3))
    with pytest.raises(ValueError, match="positive integer"):
        WeakObjective(replica_batch=0)


def test_targets_over_p_divides_the_mixture_targets_as_the_authors_code():
    batch, masks, sources = oracle_batch()
    model = OracleSeparator(masks)
    encoder = TableEncoder(sources).freeze()
    plain = WeakObjective()(model, encoder, batch)
    halved = WeakObjective(targets_over_p=True)(model, encoder, batch)
    # the same terms as plain training on a batch whose mixture targets are divided by P
    n_phrases = batch["phrase_weights"].shape[-1]
    scaled = dict(batch, mixtures=batch["mixtures"] / n_phrases)
    again = WeakObjective()(model, encoder, scaled)
    for term in ("url", "crl"):
        assert halved[term].item() == pytest.approx(again[term].item(), rel=1e-6)
        assert abs(halved[term].item() - plain[term].item()) > 1e-4
    assert halved["cnt"].item() == pytest.approx(plain["cnt"].item(), rel=1e-6)


def test_per_query_batchnorm_gives_each_padded_slot_its_own_estimate():
    # with per-query statistics the same phrase in two slots of one item has two estimates
    items = weak_items(4, n_phrases=3)
    from asteroid_wsas.data import MixtureGroups, collate_groups

    batch = collate_groups([MixtureGroups(items)[i] for i in range(2)])
    texts = [t for it in WeakObjective.query_texts(batch) for t in it]
    encoder = tiny_encoder(texts).freeze()
    calls = []
    real = encoder.embed_audio
    encoder.embed_audio = lambda wav, sr: calls.append(wav.shape[0]) or real(wav, sr)
    model = tiny_unet().train()
    objective = WeakObjective(cnt_negatives="slot", cnt_text_mask=False, cnt_row_weights=False)
    objective(model, encoder, batch)
    model.bn_stats = "per_query"
    terms = objective(model, encoder, batch)
    assert torch.isfinite(terms["loss"])
    n_rows = 2 * 2 * 3
    assert calls[-1] == n_rows  # every (item, slot) row has its own estimate
    distinct = len(
        {(b, p) for b, it in enumerate(WeakObjective.query_texts(batch)) for p in it[2:]}
    )
    assert distinct < n_rows  # the items have padded phrases
    assert calls[0] == distinct  # pooled statistics: copies of a phrase made once
