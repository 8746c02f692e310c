using System.Buffers.Binary;
using System.Text;

namespace HardPair.ML.Torch;

/// <summary>
/// Reads and edits the symbol-version requirements (<c>.gnu.version_r</c>) of a 64-bit
/// little-endian ELF shared object. Used to flag one requirement weak so that the dynamic
/// loader accepts a library built against a newer libstdc++ than the host has, when the
/// requirement names a marker symbol with no relocation against it.
/// </summary>
internal static class ElfVersionNeeds
{
    private const uint ShtGnuVerneed = 0x6ffffffe;
    private const ushort VerFlagWeak = 0x2;

    /// <summary>One required version: the library that defines it, its name and flags.</summary>
    public readonly record struct Requirement(string File, string Version, bool IsWeak, int FlagsOffset);

    public static IReadOnlyList<Requirement> Read(ReadOnlySpan<byte> elf)
    {
        if (elf.Length < 64 || elf[0] != 0x7F || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
        {
            throw new InvalidDataException("not an ELF file");
        }

        if (elf[4] != 2 || elf[5] != 1)
        {
            throw new InvalidDataException("only 64-bit little-endian ELF files are supported");
        }

        var sectionTable = checked((int)ReadU64(elf, 0x28));
        var sectionSize = ReadU16(elf, 0x3A);
        var sectionCount = ReadU16(elf, 0x3C);
        if (sectionTable == 0 || sectionCount == 0)
        {
            throw new InvalidDataException("the ELF file has no section headers");
        }

        var requirements = new List<Requirement>();
        for (var i = 0; i < sectionCount; i++)
        {
            var header = sectionTable + (i * sectionSize);
            if (ReadU32(elf, header + 4) != ShtGnuVerneed)
            {
                continue;
            }

            var offset = checked((int)ReadU64(elf, header + 24));
            var entries = ReadU32(elf, header + 44);
            var stringSection = sectionTable + ((int)ReadU32(elf, header + 40) * sectionSize);
            var strings = checked((int)ReadU64(elf, stringSection + 24));

            var need = offset;
            for (var n = 0; n < entries; n++)
            {
                var auxCount = ReadU16(elf, need + 2);
                var file = ReadString(elf, strings + (int)ReadU32(elf, need + 4));
                var aux = need + (int)ReadU32(elf, need + 8);
                for (var a = 0; a < auxCount; a++)
                {
                    var flags = ReadU16(elf, aux + 4);
                    var name = ReadString(elf, strings + (int)ReadU32(elf, aux + 8));
                    requirements.Add(new Requirement(file, name, (flags & VerFlagWeak) != 0, aux + 4));
                    aux += (int)ReadU32(elf, aux + 12);
                }

                need += (int)ReadU32(elf, need + 12);
            }
        }

        return requirements;
    }

    /// <summary>Flags every requirement of <paramref name="version"/> weak; returns how many were changed.</summary>
    public static int MarkWeak(Span<byte> elf, string version)
    {
        var changed = 0;
        foreach (var requirement in Read(elf))
        {
            if (requirement.Version == version && !requirement.IsWeak)
            {
                var flags = ReadU16(elf, requirement.FlagsOffset);
                BinaryPrimitives.WriteUInt16LittleEndian(elf[requirement.FlagsOffset..], (ushort)(flags | VerFlagWeak));
                changed++;
            }
        }

        return changed;
    }

    private static ushort ReadU16(ReadOnlySpan<byte> elf, int at) => BinaryPrimitives.ReadUInt16LittleEndian(elf[at..]);

    private static uint ReadU32(ReadOnlySpan<byte> elf, int at) => BinaryPrimitives.ReadUInt32LittleEndian(elf[at..]);

    private static ulong ReadU64(ReadOnlySpan<byte> elf, int at) => BinaryPrimitives.ReadUInt64LittleEndian(elf[at..]);

    private static string ReadString(ReadOnlySpan<byte> elf, int at)
    {
        var end = elf[at..].IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? elf[at..] : elf.Slice(at, end));
    }
}
