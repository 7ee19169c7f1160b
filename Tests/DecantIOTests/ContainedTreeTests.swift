import DecantIO
import Testing

@Suite struct CleanTests {
    @Test(arguments: [
        ("a/b/c", "a/b/c"), ("./a", "a"), ("/a/b", "a/b"), ("../x", "x"), ("../../x/../y", "y"),
        ("a/./b//c/", "a/b/c"), (".", ""), ("./", ""), ("/", ""), ("a/..", ""), ("", ""),
    ])
    func cleansLikeGoFromTheRoot(_ input: String, _ expected: String) {
        #expect(ContainedTree.clean(input) == expected)
    }
}
