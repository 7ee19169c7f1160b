@testable import DecantStore
import Testing

@Suite struct FilterTests {
    private let fields = ["name": "app", "kind": "committed", "labels.containerd.io/gc.root": "yes", "labels.tier": "web"]

    @Test func clausesMustAllHold() throws {
        #expect(try Filter("name==app,kind==committed").matches(fields))
        #expect(!(try Filter("name==app,kind==active").matches(fields)))
    }

    @Test func quotedLabelKeysAndOperators() throws {
        #expect(try Filter("labels.\"containerd.io/gc.root\"").matches(fields))
        #expect(try Filter("labels.\"containerd.io/gc.root\"==yes").matches(fields))
        #expect(try Filter("labels.tier!=db").matches(fields))
        #expect(try Filter("name~=^a.p$").matches(fields))
        #expect(!(try Filter("labels.missing").matches(fields)))
    }

    @Test func anyFilterOfAListIsEnough() throws {
        #expect(Filter.matches([try Filter("name==other"), try Filter("tier==none"), try Filter("kind==committed")], fields))
        #expect(Filter.matches([], fields))
    }

    @Test func badFiltersAreRejected() {
        #expect(throws: StoreError.self) { try Filter("name~=(") }
        #expect(throws: StoreError.self) { try Filter("==x") }
    }

    @Test func labelUpdatesByFieldPath() throws {
        let existing = ["a": "1", "b": "2"]
        #expect(try LabelUpdate.apply(["c": "3"], fieldPaths: [], to: existing) == ["c": "3"])
        #expect(try LabelUpdate.apply(["c": "3", "a": ""], fieldPaths: ["labels.c", "labels.a"], to: existing) == ["b": "2", "c": "3"])
        #expect(throws: StoreError.self) { try LabelUpdate.apply([:], fieldPaths: ["name"], to: existing) }
    }
}
