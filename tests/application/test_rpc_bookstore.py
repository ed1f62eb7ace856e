import socket
import sys
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


def test_a_unary_call_to_a_stalled_server_ends_with_deadline_exceeded():
    # Without a limit of their own, eight open watches hold all eight worker threads: the
    # server can start nothing else, and a unary call waits until its deadline.
    server, port = rpc.make_server(bookstore=rpc.Bookstore(max_watchers=rpc.MAX_WORKERS))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = rpc.services.BookstoreStub(channel)
            watches = [stub.WatchReviews(pb.WatchReviewsRequest(book_id=4), timeout=30)
                       for _ in range(rpc.MAX_WORKERS)]
            try:
                for watch in watches:
                    assert next(watch).reviewer == "dev"  # its handler runs, on a worker
                request = pb.GetAuthorRequest(id=1)
                code, _ = status_of(lambda: stub.GetAuthor(request, timeout=0.3))
                assert code == grpc.StatusCode.DEADLINE_EXCEEDED
            finally:
                for watch in watches:
                    watch.cancel()
            assert stub.GetAuthor(pb.GetAuthorRequest(id=1), timeout=5).id == 1  # served again
    finally:
        server.stop(grace=None).wait(timeout=5)


def test_open_streams_never_starve_unary_calls(stub):
    """Eight watches without a deadline: only MAX_WATCHERS get a worker, the others are refused
    at once, and a unary call is still served (it waited for ever before the limit)."""
    watches = [stub.WatchReviews(pb.WatchReviewsRequest(book_id=4)) for _ in range(8)]
    try:
        outcomes = []
        for watch in watches:
            try:
                outcomes.append(next(watch).reviewer)
            except grpc.RpcError as error:
                outcomes.append(error.code())
        # the eight calls reach the server at once: which four get a slot is up to it
        assert outcomes.count("dev") == rpc.MAX_WATCHERS
        assert outcomes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 8 - rpc.MAX_WATCHERS
        assert stub.GetAuthor(pb.GetAuthorRequest(id=1), timeout=2).id == 1
    finally:
        for watch in watches:
            watch.cancel()
    # the cancelled streams gave their slots back
    again = stub.WatchReviews(pb.WatchReviewsRequest(book_id=4), timeout=5)
    assert next(again).reviewer == "dev"
    again.cancel()


def test_a_stream_without_a_deadline_still_ends():
    server, port = rpc.make_server(bookstore=rpc.Bookstore(max_watch=0.2))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = rpc.services.BookstoreStub(channel)
            stream = stub.WatchReviews(pb.WatchReviewsRequest(book_id=1))  # no timeout at all
            assert [review.reviewer for review in stream] == ["ana", "ben"]  # then it ended
            assert stream.code() == grpc.StatusCode.OK
    finally:
        server.stop(grace=None).wait(timeout=5)


def test_http_1_and_garbage_bytes_are_dropped_and_the_server_serves_on(server_port, stub):
    for data in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00garbage" * 100):
        with socket.create_connection(("127.0.0.1", server_port[1]), timeout=5) as sock:
            sock.sendall(data)
            received = b""
            while chunk := sock.recv(4096):  # HTTP/2 SETTINGS and GOAWAY frames, then a close
                received += chunk
            assert not received.startswith(b"HTTP/1.")
    assert stub.GetAuthor(pb.GetAuthorRequest(id=3), timeout=5).name == "Octavia E. Butler"


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


def test_the_program_carries_its_schema_and_needs_no_file(monkeypatch, tmp_path):
    """A bare copy works from any folder: the schema is a string in the file, compiled from a
    temporary folder that is gone afterwards, leaving the import path as it was."""
    monkeypatch.chdir(tmp_path)
    path_before = list(sys.path)
    messages, service = rpc.load_protos(rpc.BOOKSTORE_PROTO)
    assert sys.path == path_before
    assert messages.Author(id=1, name="x").name == "x" and hasattr(service, "BookstoreStub")
    assert 'service Bookstore {' in rpc.BOOKSTORE_PROTO


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
