from territory_core.contract import A
from territory_core.dataset import load_dir, load_sample, save_dir


def test_save_dir_round_trips_awkward_names(tmp_path):
    ds = load_sample()
    small = ds.with_(accounts=ds.accounts.head(5).copy())
    small.accounts.loc[small.accounts.index[0], A.name] = 'Acme\rWest, "Inc"\n2'
    save_dir(small, tmp_path)
    back = load_dir(tmp_path)
    assert list(back.accounts[A.name]) == list(small.accounts[A.name])
    assert len(back.reps) == len(ds.reps)
