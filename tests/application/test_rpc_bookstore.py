import threading

import grpc
import httpx
import pytest

from tests.support import load_snippet

rpc = load_snippet("application/rpc_bookstore.py")
rest = load_snippet("application/rest_bookstore.py")
pb = rpc.pb


@pytest.fixture
def server_port():
    server, port = rpc.make_server()
    try:
        yield server, port
    finally:
        server.stop(grace=None).wait(timeout=5)


@pytest.fixture
def channel(server_port):
    with grpc.insecure_channel(f"127.0.0.1:{server_port[1]}") as channel:
        yield channel


@pytest.fixture
def stub(channel):
    return rpc.services.BookstoreStub(channel)


def status_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), caught.value.details()


def test_get_author(stub):
    author = stub.GetAuthor(pb.GetAuthorRequest(id=2), timeout=5)
    assert (author.name, author.born, author.country) == ("Terry Pratchett", 1948, "United Kingdom")


@pytest.mark.parametrize(
    ("author_id", "code", "details"),
    [
        (99, grpc.StatusCode.NOT_FOUND, "author 99 does not exist"),
        (0, grpc.StatusCode.INVALID_ARGUMENT, "author id must be positive"),
        (-3, grpc.StatusCode.INVALID_ARGUMENT, "author id must be positive"),
    ],
)
def test_get_author_status_codes(stub, author_id, code, details):
    request = pb.GetAuthorRequest(id=author_id)
    assert status_of(lambda: stub.GetAuthor(request, timeout=5)) == (code, details)


def test_list_books_streams_one_message_per_book(stub):
    stream = stub.ListBooks(pb.ListBooksRequest(author_id=1), timeout=5)
    assert [book.id for book in stream] == [1, 2, 3]
    assert [b.title for b in stub.ListBooks(pb.ListBooksRequest(author_id=3), timeout=5)] == [
        "Kindred"]


def test_list_books_of_unknown_author_ends_with_not_found(stub):
    stream = stub.ListBooks(pb.ListBooksRequest(author_id=42), timeout=5)
    assert status_of(lambda: list(stream))[0] == grpc.StatusCode.NOT_FOUND


def test_author_page_is_the_same_screen_as_rest(stub):
    page = stub.GetAuthorPage(pb.GetAuthorRequest(id=1), timeout=5)
    with rest.running(rest.make_server()) as base, httpx.Client(base_url=base, timeout=5) as c:
        view = rest.screen_view(rest.fetch_author_page(c, 1, rest.Meter()))
    assert rpc.page_as_json(page) == rest.compact(view)
    assert page.ByteSize() < len(rpc.page_as_json(page))  # field numbers, not names, on the wire
    assert pb.AuthorPage.FromString(page.SerializeToString()) == page


def test_create_book_then_already_exists(stub):
    request = pb.CreateBookRequest(author_id=3, isbn="9781538732182", title="Parable", year=1993)
    book = stub.CreateBook(request, timeout=5)
    assert (book.id, book.author_id, book.title) == (6, 3, "Parable")
    assert status_of(lambda: stub.CreateBook(request, timeout=5)) == (
        grpc.StatusCode.ALREADY_EXISTS, "ISBN 9781538732182 exists")
    unknown = pb.CreateBookRequest(author_id=7, isbn="1", title="x")
    assert status_of(lambda: stub.CreateBook(unknown, timeout=5))[0] == grpc.StatusCode.NOT_FOUND


def test_add_review_and_its_errors(stub):
    review = stub.AddReview(pb.AddReviewRequest(book_id=5, reviewer="eve", rating=4), timeout=5)
    assert (review.id, review.book_id, review.rating) == (6, 5, 4)
    bad = pb.AddReviewRequest(book_id=5, reviewer="eve", rating=0)
    assert status_of(lambda: stub.AddReview(bad, timeout=5)) == (
        grpc.StatusCode.INVALID_ARGUMENT, "rating must be 1 to 5, not 0")
    missing = pb.AddReviewRequest(book_id=50, reviewer="eve", rating=3)
    assert status_of(lambda: stub.AddReview(missing, timeout=5))[0] == grpc.StatusCode.NOT_FOUND


def test_watch_ends_with_deadline_exceeded_after_the_existing_reviews(stub):
    stream = stub.WatchReviews(pb.WatchReviewsRequest(book_id=2), timeout=1)
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for review in stream:
            received.append(review.reviewer)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert received == ["chen"]


def test_watch_sees_a_review_added_by_another_client(server_port, stub):
    stream = stub.WatchReviews(pb.WatchReviewsRequest(book_id=3), timeout=10)
    assert next(stream).reviewer == "ana"
    with grpc.insecure_channel(f"127.0.0.1:{server_port[1]}") as other:
        rpc.services.BookstoreStub(other).AddReview(
            pb.AddReviewRequest(book_id=3, reviewer="zoe", rating=2), timeout=5)
    assert next(stream).reviewer == "zoe"
    stream.cancel()
    assert status_of(lambda: next(stream))[0] == grpc.StatusCode.CANCELLED


def test_watch_of_unknown_book_is_not_found(stub):
    stream = stub.WatchReviews(pb.WatchReviewsRequest(book_id=9), timeout=5)
    assert status_of(lambda: next(stream))[0] == grpc.StatusCode.NOT_FOUND


def test_ended_watches_give_their_worker_threads_back(stub):
    # The pool has 8 workers; a watch that kept its thread after the deadline would starve it.
    for _ in range(10):
        stream = stub.WatchReviews(pb.WatchReviewsRequest(book_id=4), timeout=0.2)
        assert status_of(lambda s=stream: list(s))[0] == grpc.StatusCode.DEADLINE_EXCEEDED
    assert stub.GetAuthor(pb.GetAuthorRequest(id=1), timeout=5).id == 1


def test_a_unary_call_to_a_stalled_server_ends_with_deadline_exceeded(stub):
    # Eight open watches hold all eight worker threads: the server can start nothing else.
    watches = [stub.WatchReviews(pb.WatchReviewsRequest(book_id=4), timeout=30) for _ in range(8)]
    try:
        for watch in watches:
            assert next(watch).reviewer == "dev"  # its handler is running, on a worker thread
        request = pb.GetAuthorRequest(id=1)
        code, _ = status_of(lambda: stub.GetAuthor(request, timeout=0.3))
        assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    finally:
        for watch in watches:
            watch.cancel()
    assert stub.GetAuthor(pb.GetAuthorRequest(id=1), timeout=5).id == 1  # served again


def test_garbage_bytes_and_unknown_methods_get_a_status_and_harm_no_one(channel, stub):
    raw = channel.unary_unary("/bookstore.Bookstore/GetAuthor")  # no serializer: raw bytes
    code, details = status_of(lambda: raw(b"\xff\xff\xff", timeout=5))
    assert code == grpc.StatusCode.INTERNAL
    assert "deserializing" in details
    missing = channel.unary_unary("/bookstore.Bookstore/Nope")
    assert status_of(lambda: missing(b"", timeout=5))[0] == grpc.StatusCode.UNIMPLEMENTED
    assert stub.GetAuthor(pb.GetAuthorRequest(id=3), timeout=5).name == "Octavia E. Butler"


def test_a_busy_port_is_an_error_not_a_shared_port(server_port):
    with pytest.raises(RuntimeError, match="Failed to bind"):
        rpc.make_server(port=server_port[1])


def test_the_proto_must_be_beside_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(rpc, "HERE", tmp_path)
    with pytest.raises(FileNotFoundError, match="bookstore.proto must be next to this file"):
        rpc.load_protos()


def test_call_prints_ok_or_the_status(stub, capsys):
    rpc.call("GetAuthor(1)", lambda: stub.GetAuthor(pb.GetAuthorRequest(id=1), timeout=5))
    rpc.call("GetAuthor(7)", lambda: stub.GetAuthor(pb.GetAuthorRequest(id=7), timeout=5))
    assert capsys.readouterr().out.splitlines() == [
        "  GetAuthor(1)                   OK",
        "  GetAuthor(7)                   NOT_FOUND         author 7 does not exist",
    ]


def test_demo_output(capsys):
    rpc.main([])
    out = capsys.readouterr().out
    assert "review 6: eve 3" in out
    assert out.rstrip().endswith("the stream ended: DEADLINE_EXCEEDED")


def test_server_and_client_modes(capsys):
    def on_ready(server, port):
        def talk_then_stop():
            try:
                rpc.main(["client", "--port", str(port)])
            finally:
                server.stop(grace=None)

        threading.Thread(target=talk_then_stop).start()

    rpc.main(["server", "--port", "0"], on_ready=on_ready)
    out = capsys.readouterr().out
    assert "serving the Bookstore service on 127.0.0.1:" in out
    assert "GetAuthorPage(1), one call made for the screen" in out


def test_server_mode_stops_on_ctrl_c(capsys):
    def interrupt(timeout=None):
        raise KeyboardInterrupt

    def on_ready(server, port):
        server.wait_for_termination = interrupt

    rpc.main(["server", "--port", "0"], on_ready=on_ready)
    assert "serving the Bookstore service" in capsys.readouterr().out
