import { accountText, bindValues, toLiteral } from '../../lambda/lib/sql-literals';

describe('values bound as literals that no sql_mode reads differently', () => {
  test('a string is a utf8mb4 hex literal of its UTF-8 bytes', () => {
    expect(toLiteral("O'Brien \\ ü")).toBe(
      `_utf8mb4 X'${Buffer.from("O'Brien \\ ü", 'utf8').toString('hex')}'`
    );
    expect(toLiteral('')).toBe("_utf8mb4 X''");
  });

  test('numbers must be safe integers; null is NULL', () => {
    expect(bindValues('SELECT ? , ?, ?', [42, -7, null])).toBe('SELECT 42 , -7, NULL');
    expect(() => toLiteral(1.5)).toThrow(TypeError);
    expect(() => toLiteral(2 ** 53)).toThrow(TypeError);
    expect(() => toLiteral(true)).toThrow(/type boolean/);
    expect(() => toLiteral({})).toThrow(TypeError);
  });

  test('the number of values must match the placeholders', () => {
    expect(() => bindValues('SELECT ?', [])).toThrow(/1 placeholders but 0 values/);
    expect(() => bindValues('SELECT 1', [1])).toThrow(/0 placeholders but 1 values/);
  });

  test('account text is quoted with doubled quotes and refuses what sql_mode reads differently', () => {
    expect(
      bindValues("CREATE USER ?@'%' IDENTIFIED BY ?", [accountText('app'), accountText("p'w")])
    ).toBe("CREATE USER 'app'@'%' IDENTIFIED BY 'p''w'");
    expect(() => toLiteral(accountText('a\\b'))).toThrow(/backslash/);
    expect(() => toLiteral(accountText('a\nb'))).toThrow(/control character/);
  });
});
