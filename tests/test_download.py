"Downloads against a web server on 127.0.0.1 (never the internet): the cache, sha256 checks, atomic files and folders, the umask, tutorial_data's lookup order."
import hashlib, http.server, io, os, socket, stat, threading, zipfile
from pathlib import Path
import cv2, numpy as np, pytest, scipy.io
from conftest import data_file
from poseai.core import PoseaiError
from poseai.data import download as dl
from poseai.data.download import *
from poseai.datasets import LspDataset
from poseai.estimators import load_config
from poseai.learner import build_dataset

ROOT = Path(__file__).resolve().parents[1]
sha = lambda data: hashlib.sha256(data).hexdigest()

class _Handler(http.server.BaseHTTPRequestHandler):
    "Serves the server's `files`; a path in its `cut` set announces the whole body and sends half of it."
    def do_GET(self):
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None: return self.send_error(404)
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers()
        self.wfile.write(body[:len(body) // 2] if self.path in self.server.cut else body)
    def log_message(self, *args): pass

@pytest.fixture
def server():
    "A web server on 127.0.0.1 in a thread: put bytes in `server.files`, read the paths asked for in `server.requests`."
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
    srv.files, srv.cut, srv.requests = {}, set(), []
    srv.url = f'http://127.0.0.1:{srv.server_address[1]}'
    thread = threading.Thread(target=srv.serve_forever, daemon=True); thread.start()
    yield srv
    srv.shutdown(); srv.server_close()

@pytest.fixture
def places(tmp_path, monkeypatch):
    "An empty cache, no $POSEAI_DATA and an empty shared/data: only what a test puts there exists."
    monkeypatch.setenv('POSEAI_CACHE', str(tmp_path/'cache')); monkeypatch.delenv('POSEAI_DATA', raising=False)
    monkeypatch.setattr(dl, 'SHARED_DATA', tmp_path/'shared'/'data')
    return tmp_path

def tree(folder):
    "Every path under `folder`, relative, as sorted strings (hidden temporary ones included)."
    return sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob('*'))

# download_url

def test_first_call_downloads_second_finds_the_cache(server, tmp_path):
    server.files['/w.pth'] = data = os.urandom(3_000_000)
    dest = download_url(server.url + '/w.pth', tmp_path/'models'/'w.pth', sha(data), progress=False)
    assert dest == tmp_path/'models'/'w.pth' and dest.read_bytes() == data and server.requests == ['/w.pth']
    assert download_url(server.url + '/w.pth', dest, sha(data)) == dest
    assert server.requests == ['/w.pth']   # no second request
    assert tree(tmp_path/'models') == ['w.pth']

def test_a_file_with_another_hash_is_fetched_again(server, tmp_path):
    server.files['/a.bin'] = b'new'
    (tmp_path/'a.bin').write_bytes(b'old')
    download_url(server.url + '/a.bin', tmp_path/'a.bin', sha(b'new'), progress=False)
    assert (tmp_path/'a.bin').read_bytes() == b'new' and server.requests == ['/a.bin']

def test_wrong_hash_is_one_clear_line_and_leaves_nothing(server, tmp_path):
    server.files['/lsp_dataset.zip'] = b'<html>moved</html>'
    with pytest.raises(PoseaiError) as e: download_url(server.url + '/lsp_dataset.zip', tmp_path/'dl'/'lsp_dataset.zip', '0' * 64, progress=False)
    message = str(e.value)
    assert '\n' not in message and server.url + '/lsp_dataset.zip' in message
    assert f"expected {'0' * 64}, got {sha(b'<html>moved</html>')}" in message
    assert tree(tmp_path/'dl') == []   # no file under the final name, no temporary file

def test_interrupted_transfer_leaves_nothing(server, tmp_path):
    server.files['/big.bin'] = os.urandom(200_000); server.cut.add('/big.bin')
    with pytest.raises(PoseaiError, match=r'big\.bin: download interrupted: 100000 of 200000 bytes came'):
        download_url(server.url + '/big.bin', tmp_path/'big.bin', progress=False)   # no hash given: the length still catches it
    assert tree(tmp_path) == []

def test_http_and_connection_errors_name_the_url(server, tmp_path):
    with pytest.raises(PoseaiError, match=r'/missing\.zip: download failed: HTTP 404'): download_url(server.url + '/missing.zip', tmp_path/'m.zip')
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]   # a port nobody listens on
    with pytest.raises(PoseaiError, match=f'http://127.0.0.1:{port}/x: download failed: .*refused'): download_url(f'http://127.0.0.1:{port}/x', tmp_path/'x')
    assert tree(tmp_path) == []

@pytest.mark.parametrize('mask', [0o022, 0o027, 0o002])
def test_file_and_folder_modes_follow_the_umask(server, tmp_path, umask, mask):
    server.files['/f'] = b'x'
    umask(mask)
    assert stat.S_IMODE(download_url(server.url + '/f', tmp_path/'f', progress=False).stat().st_mode) == 0o666 & ~mask   # not tempfile's 0o600
    with atomic_folder(tmp_path/'d'): pass
    assert stat.S_IMODE((tmp_path/'d').stat().st_mode) == 0o777 & ~mask   # not mkdtemp's 0o700

def test_atomic_folder_is_one_rename(tmp_path):
    with atomic_folder(tmp_path/'data'/'lsp') as work:
        (work/'joints.mat').write_bytes(b'mat')
        assert not (tmp_path/'data'/'lsp').exists() and work.parent.parent == tmp_path/'data'   # filled beside its destination, on the same disk
        inode = work.stat().st_ino
    assert (tmp_path/'data'/'lsp').stat().st_ino == inode and tree(tmp_path/'data') == ['lsp', 'lsp/joints.mat']   # renamed, not copied
    with pytest.raises(ZeroDivisionError):
        with atomic_folder(tmp_path/'data'/'mouse') as work: (work/'config.yaml').write_text('half'); 1 / 0
    assert tree(tmp_path/'data') == ['lsp', 'lsp/joints.mat']

def test_progress_goes_to_stderr_only(server, tmp_path, capsys):
    server.files['/p.bin'] = b'y' * 2_500_000
    download_url(server.url + '/p.bin', tmp_path/'p.bin')
    out, err = capsys.readouterr()
    assert out == '' and err.endswith('p.bin: 2.5 of 2.5 MB\n')
    download_url(server.url + '/p.bin', tmp_path/'q.bin', progress=False)
    assert capsys.readouterr() == ('', '')

# tutorial_data

def lsp_zip(n=2):
    "A zip with the layout of lsp_dataset.zip: `images/im0001.jpg`..., `visualized/`, `joints.mat` (3 x 14 x n), `README.txt`."
    buffer, mat = io.BytesIO(), io.BytesIO()
    joints = np.concatenate([np.random.rand(2, 14, n) * 60 + 20, np.zeros((1, 14, n))])
    scipy.io.savemat(mat, dict(joints=joints))
    with zipfile.ZipFile(buffer, 'w') as z:
        for i in range(1, n + 1):
            jpeg = cv2.imencode('.jpg', np.full((100, 80, 3), 40 * i, np.uint8))[1].tobytes()
            z.writestr(f'images/im{i:04d}.jpg', jpeg); z.writestr(f'visualized/im{i:04d}.jpg', jpeg)
        z.writestr('joints.mat', mat.getvalue()); z.writestr('README.txt', 'Leeds Sports Pose Dataset')
    return buffer.getvalue()

def zip_entry(server, data, name='tiny-lsp.zip'):
    "A catalogue entry for the archive `data` served at /`name`, its content digests computed from the archive itself."
    with zipfile.ZipFile(io.BytesIO(data)) as z: content = {n: z.read(n) for n in z.namelist()}
    images = ''.join(sorted(f'{n} {sha(b)}\n' for n, b in content.items() if n.startswith('images/')))
    server.files[f'/{name}'] = data
    return dict(title='tiny LSP', archive=f'{server.url}/{name}', sha256=sha(data), size=len(data),
                files={'joints.mat': sha(content['joints.mat'])}, digests={'images/*.jpg': sha(images.encode())})

def test_archive_downloads_once_unpacks_and_feeds_lspdataset(server, places, monkeypatch):
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-lsp', zip_entry(server, lsp_zip()))
    with pytest.raises(PoseaiError, match='get it with `poseai data tiny-lsp`'): tutorial_data('tiny-lsp', download=False)
    assert server.requests == []
    folder = tutorial_data('tiny-lsp', progress=False)
    assert folder == places/'cache'/'data'/'tiny-lsp' and server.requests == ['/tiny-lsp.zip']
    assert tree(folder) == ['README.txt', 'images', 'images/im0001.jpg', 'images/im0002.jpg', 'joints.mat', 'visualized', 'visualized/im0001.jpg', 'visualized/im0002.jpg']
    assert tree(places/'cache') == ['data', 'data/tiny-lsp', *(f'data/tiny-lsp/{p}' for p in tree(folder)), 'downloads']   # the archive is gone, no temporary folder
    assert tutorial_data('tiny-lsp') == folder and find_tutorial_data('tiny-lsp') == folder
    assert server.requests == ['/tiny-lsp.zip']   # the second call found the cache
    assert len(LspDataset('tutorial:tiny-lsp', split='train')) == 2   # what a config's root='tutorial:lsp' does

def test_configs_find_the_data_where_tutorial_data_does(places, monkeypatch):
    with zipfile.ZipFile(io.BytesIO(lsp_zip())) as z: z.extractall(places/'own'/'lsp')
    monkeypatch.setenv('POSEAI_DATA', str(places/'own'))
    run = load_config(ROOT/'configs'/'lsp_res50.py')
    assert run['train']['dataset']['root'] == run['valid']['root'] == 'tutorial:lsp'
    train = build_dataset(run['train'])
    assert len(train) == 20 * 2 and train.dataset.ann_file == str(places/'own'/'lsp'/'joints.mat')
    assert load_config(ROOT/'configs'/'dlc_openfield_res50.py')['valid']['project_dir'] == 'tutorial:dlc-openfield'

def test_a_bad_archive_leaves_nothing_in_place(server, places, monkeypatch):
    entry = zip_entry(server, lsp_zip())
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-lsp', dict(entry, files={**entry['files'], 'extra.txt': '1' * 64}))   # an archive short of a file
    with pytest.raises(PoseaiError, match=r"lsp\.zip: not the complete tiny LSP: files the catalogue lists are missing"):
        tutorial_data('tiny-lsp', progress=False)
    assert tree(places/'cache'/'data') == []   # unpacked into a temporary folder, never renamed into place
    server.files['/junk.zip'] = b'not a zip'
    monkeypatch.setitem(TUTORIAL_DATA, 'junk', dict(entry, archive=server.url + '/junk.zip', sha256=sha(b'not a zip')))
    with pytest.raises(PoseaiError, match='junk.zip: cannot unpack'): tutorial_data('junk', progress=False)
    assert tree(places/'cache'/'data') == []

def file_list(server, files, sha256s=None):
    "A catalogue entry fetched file by file from /project/ on `server`."
    for rel, data in files.items(): server.files[f'/project/{rel}'] = data
    return dict(title='tiny project', base_url=f'{server.url}/project/', size=sum(map(len, files.values())),
                files={rel: (sha256s or {}).get(rel, sha(data)) for rel, data in files.items()})

PROJECT = {'config.yaml': b'bodyparts: [snout]\n', 'labeled-data/m1/CollectedData_me.csv': b'scorer,me\n', 'labeled-data/m1/img0000.png': b'png'}

def test_file_list_downloads_each_file_once(server, places, monkeypatch, capsys):
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-dlc', file_list(server, PROJECT))
    folder = tutorial_data('tiny-dlc')
    assert sorted(server.requests) == sorted(f'/project/{rel}' for rel in PROJECT)
    assert {rel: (folder/rel).read_bytes() for rel in PROJECT} == PROJECT
    out, err = capsys.readouterr()
    assert out == '' and 'downloading tiny project' in err and 'tiny-dlc: 3 of 3 files' in err
    assert tutorial_data('tiny-dlc') == folder and len(server.requests) == len(PROJECT)

def test_an_incomplete_cached_copy_is_replaced(server, places, monkeypatch):
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-dlc', file_list(server, PROJECT))
    folder = tutorial_data('tiny-dlc', progress=False)
    (folder/'config.yaml').unlink(); (folder/'stray.txt').write_text('left by hand')
    assert find_tutorial_data('tiny-dlc') is None
    assert tutorial_data('tiny-dlc', progress=False) == folder and len(server.requests) == 2 * len(PROJECT)
    assert tree(folder) == ['config.yaml', 'labeled-data', 'labeled-data/m1', 'labeled-data/m1/CollectedData_me.csv', 'labeled-data/m1/img0000.png']   # the stray file went with the old copy

def test_a_bad_file_in_a_list_leaves_nothing_in_place(server, places, monkeypatch):
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-dlc', file_list(server, PROJECT, {'labeled-data/m1/img0000.png': '2' * 64}))
    with pytest.raises(PoseaiError, match=r'/project/labeled-data/m1/img0000\.png: sha256 mismatch: expected 2{64}'): tutorial_data('tiny-dlc', progress=False)
    assert tree(places/'cache'/'data') == []   # the files fetched before it went with the temporary folder

def test_lookup_order(server, places, monkeypatch):
    monkeypatch.setitem(TUTORIAL_DATA, 'tiny-dlc', file_list(server, PROJECT))
    def put(folder):
        for rel, data in PROJECT.items(): (folder/'tiny-dlc'/rel).parent.mkdir(parents=True, exist_ok=True); (folder/'tiny-dlc'/rel).write_bytes(data)
        return folder/'tiny-dlc'
    cache, shared, own = put(places/'cache'/'data'), places/'shared'/'data'/'tiny-dlc', places/'own'/'tiny-dlc'
    assert tutorial_data('tiny-dlc') == cache
    assert put(places/'shared'/'data') == shared and tutorial_data('tiny-dlc') == shared   # shared/data beside the repository before the cache
    monkeypatch.setenv('POSEAI_DATA', str(places/'own'))
    assert tutorial_data('tiny-dlc') == shared   # an empty $POSEAI_DATA/<name> does not count
    assert put(places/'own') == own and tutorial_data('tiny-dlc') == own and tutorial_folders()[0] == places/'own'
    (own/'config.yaml').unlink()
    assert find_tutorial_data('tiny-dlc') == shared   # an incomplete copy does not count either
    assert server.requests == []

def test_download_false_says_where_it_looked_and_how_to_get_it(places, monkeypatch):
    monkeypatch.setenv('POSEAI_DATA', str(places/'own'))
    with pytest.raises(PoseaiError) as e: tutorial_data('lsp', download=False)
    message = str(e.value)
    assert '\n' not in message and message.startswith('Leeds Sports Pose (35 MB) is in none of')
    assert all(str(f) in message for f in (places/'own', places/'shared'/'data', places/'cache'/'data'))
    assert message.endswith("get it with `poseai data lsp` or `tutorial_data('lsp')`")
    assert find_tutorial_data('dlc-openfield') is None
    with pytest.raises(PoseaiError, match="unknown tutorial dataset 'coco': one of lsp, dlc-openfield"): tutorial_data('coco')

def test_tutorial_root():
    assert tutorial_root('data/lsp') == 'data/lsp' and tutorial_root(Path('lsp')) == Path('lsp')

def test_catalogue_ships_with_the_package():
    "pyproject's package-data covers the catalogue, so a `pip install` has it."
    import tomllib
    globs = tomllib.loads((ROOT/'pyproject.toml').read_text())['tool']['setuptools']['package-data']['poseai']
    assert any(Path('data/tutorial_data.json').match(g) for g in globs)
    assert (ROOT/'poseai'/'data'/'tutorial_data.json').is_file() and (ROOT/'poseai'/'data'/'__init__.py').is_file()
    dlc = TUTORIAL_DATA['dlc-openfield']
    assert dlc['base_url'].startswith('https://raw.githubusercontent.com/DeepLabCut/DeepLabCut/cdc87245bfa7df19eb5752b1c9578a30d009ba40/')
    assert len(dlc['files']) == 119 and TUTORIAL_DATA['lsp']['archive'] == 'http://sam.johnson.io/research/lsp_dataset.zip'

# the catalogue against the developers' copies

@pytest.mark.parametrize('name', ['lsp', 'dlc-openfield'])
def test_shared_copies_are_the_published_content(name):
    check_tutorial_data(name, data_file(name))

def test_a_changed_data_file_is_caught(tmp_path):
    lsp = data_file('lsp')
    (tmp_path/'images').mkdir(); (tmp_path/'joints.mat').write_bytes((lsp/'joints.mat').read_bytes())
    for image in sorted((lsp/'images').glob('*.jpg'))[:-1]: (tmp_path/'images'/image.name).symlink_to(image)
    with pytest.raises(PoseaiError, match=r'differ from the published Leeds Sports Pose'): check_tutorial_data('lsp', tmp_path)   # one image short
    (tmp_path/'joints.mat').write_bytes(b'changed')
    with pytest.raises(PoseaiError, match=r'joints\.mat: sha256 mismatch with the published Leeds Sports Pose'): check_tutorial_data('lsp', tmp_path)
