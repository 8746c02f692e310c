// Two namespaces that use each other: the fixture the cycle rule must reject (NamespaceCycleTests).
namespace HardPair.Architecture.Tests.Fixtures.Cyclic.Left
{
    public static class LeftType
    {
        public static int Value => Right.RightType.Seed + 1;
    }
}

namespace HardPair.Architecture.Tests.Fixtures.Cyclic.Right
{
    public static class RightType
    {
        public static int Seed { get; } = 1;

        public static int Echo() => Left.LeftType.Value;
    }
}
