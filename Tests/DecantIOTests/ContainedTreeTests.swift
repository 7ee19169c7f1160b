import DecantIO
import Testing

@Suite struct CleanTests {
    @Test(arguments: [
        ("a/b/c", "a/b/c"), ("./a", "a"), ("/a/b", "a/b"), ("../x", "x"), ("../../x/../y", "y"),
        ("a/./b//c/", "a/b/c"), (".", ""), ("./", ""), ("/", ""), ("a/..", ""), ("", ""),
        // Already clean but for a leading "./" or trailing slashes.
        ("./usr/lib/", "usr/lib"), ("usr/lib//", "usr/lib"), ("a/.wh..wh..opq", "a/.wh..wh..opq"),
        ("a/.../..b/.c", "a/.../..b/.c"), ("./é/ü.txt", "é/ü.txt"),
        // Not clean after the leading "./": the slow path decides.
        ("./../a", "a"), (".//a/./b", "a/b"), ("a/b/..", "a"), ("./.", ""), ("a/b/./", "a/b"), ("..", ""),
    ])
    func cleansLikeGoFromTheRoot(_ input: String, _ expected: String) {
        #expect(ContainedTree.clean(input) == expected)
    }
}
