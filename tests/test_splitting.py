from slm_factory.splitting import assign, fill_empty_splits, units


def test_groups_never_straddle_and_categories_are_stratified():
    groups = [f"g{i // 5}" for i in range(400)]
    cats = [["a", "b", "c", "d"][(i // 5) % 4] for i in range(400)]
    edges = [(0, 399)]  # a semantic cluster joins the first and last group
    unit_ids = units(groups, edges)
    split = assign(cats, unit_ids, groups, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=3)
    by_group = {}
    for g, s in zip(groups, split):
        by_group.setdefault(g, set()).add(s)
    assert all(len(v) == 1 for v in by_group.values())
    assert split[0] == split[399]
    for c in "abcd":
        for name, share in (("train", 0.8), ("dev", 0.1), ("test", 0.1)):
            got = sum(1 for x, s in zip(cats, split) if x == c and s == name) / cats.count(c)
            assert abs(got - share) <= 0.06, (c, name, got)
    assert assign(cats, unit_ids, groups, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=3) == split
    assert assign(cats, unit_ids, groups, {"train": 0.8, "dev": 0.1, "test": 0.1}, seed=4) != split


def test_a_growing_dataset_keeps_its_units_where_they_were():
    ratios = {"train": 0.7, "dev": 0.15, "test": 0.15}
    groups = [f"t{i // 4}#{i % 2}" for i in range(600)]
    cats = [["a", "b", "c"][(i // 4) % 3] for i in range(600)]
    before = dict(zip(groups, assign(cats, units(groups), groups, ratios, seed=7)))
    # a repair plan adds 10% more rows in new groups, spread over the categories
    more = [f"repair{i // 3}" for i in range(60)]
    more_cats = [["a", "b", "c"][(i // 3) % 3] for i in range(60)]
    g2, c2 = groups + more, cats + more_cats
    after = dict(zip(g2, assign(c2, units(g2), g2, ratios, seed=7)))
    moved = [g for g in before if after[g] != before[g]]
    assert len(moved) <= 0.1 * len(before), moved
    # the old split's test groups mostly stay out of the new train
    old_test = {g for g, s in before.items() if s == "test"}
    assert len({g for g in old_test if after[g] == "train"}) <= 0.1 * len(old_test)
    # rows added to the existing groups (what a repair plan's rows are) move no group at all
    g3, c3 = groups + groups[:200], cats + cats[:200]
    assert dict(zip(g3, assign(c3, units(g3), g3, ratios, seed=7))) == before


def test_a_small_task_gets_every_split():
    # three groups per category: each category cut on its own would leave dev empty at 0.6/0.2/0.2
    groups = [f"{c}{g}" for c in "abc" for g in range(3) for _ in range(4)]
    cats = [g[0] for g in groups]
    split = assign(cats, units(groups), groups, {"train": 0.6, "dev": 0.2, "test": 0.2}, seed=1)
    assert set(split) == {"train", "dev", "test"}
    assert split.count("train") > split.count("dev")


def test_a_split_whose_only_key_decides_no_unit_counts_as_empty():
    # a2 sits in dev, but its rows follow a0's unit (a semantic link), so dev would hold no rows
    key_split = {"a0": "train", "a1": "train", "a2": "dev", "a3": "test"}
    by_cat = {"a": [(0.1, "a0"), (0.2, "a1"), (0.5, "a2"), (0.9, "a3")]}
    fill_empty_splits(key_split, {"a0", "a1", "a3"}, by_cat, ["train", "dev", "test"])
    assert key_split == {"a0": "train", "a1": "dev", "a2": "dev", "a3": "test"}
