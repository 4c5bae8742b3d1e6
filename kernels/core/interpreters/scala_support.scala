// Compiled once per kernel by the notebook's own Scala compiler (see scala.py): cell analysis,
// running a cell's object on a stoppable thread, and the Python value proxy Scala cells see.
package quire.bridge

import java.io.{ByteArrayOutputStream, PrintStream}
import java.util.function.BiFunction

import scala.jdk.CollectionConverters._
import scala.language.dynamics
import scala.util.chaining._
import scala.reflect.internal.util.BatchSourceFile
import scala.tools.nsc.interpreter.IMain
import scala.tools.nsc.reporters.StoreReporter

/** A Python object seen from Scala, as Polynote's PythonObject: members are looked up and called in Python. */
class PythonObject(val handle: BiFunction[String, Array[Object], Object]) extends Dynamic {
  // Python answers member access and calls with another PythonObject (`as[T]` gets a Scala value out).
  private def ask(op: String, args: Any*): PythonObject =
    Values.fromPython(handle.apply(op, args.map(a => Values.toPython(a).asInstanceOf[Object]).toArray)) match {
      case p: PythonObject => p
      case null => null
      case other => throw new IllegalStateException(s"Python answered $op with a ${other.getClass.getName}")
    }

  def selectDynamic(name: String): PythonObject = ask("getattr", name)
  def updateDynamic(name: String)(value: Any): Unit = { handle.apply("setattr", Array(name, Values.toPython(value).asInstanceOf[Object])); () }
  def applyDynamic(name: String)(args: Any*): PythonObject = ask("call", (name +: args): _*)
  def applyDynamicNamed(name: String)(args: (String, Any)*): PythonObject = {
    val names = args.map(_._1).map(n => if (n == null) "" else n)
    ask("callkw", (Seq(name, names.mkString(",")) ++ args.map(_._2)): _*)
  }
  def apply(args: Any*): PythonObject = ask("call", ("__call__" +: args): _*)
  def asScalaList: List[Any] = Values.fromPython(handle.apply("list", Array())) match {
    case s: Seq[_] => s.toList
    case other => throw new ClassCastException(s"Python value is not a sequence: $other")
  }
  def asScalaMap: Map[Any, Any] = Values.fromPython(handle.apply("dict", Array())) match {
    case m: Map[_, _] => m.asInstanceOf[Map[Any, Any]]
    case other => throw new ClassCastException(s"Python value is not a mapping: $other")
  }
  def as[T]: T = Values.fromPython(handle.apply("value", Array())).asInstanceOf[T]
  override def toString: String = String.valueOf(handle.apply("str", Array()))
}

/** Polynote's PythonObject conveniences on the Scala values Python lists, dicts and numbers arrive as, so
  * Polynote's notebooks (`ids.asScalaList`, `i.as[Integer]`) compile unchanged. */
object Conveniences {
  implicit class PolynoteSeq[A](private val seq: Seq[A]) extends AnyVal {
    def asScalaList: List[A] = seq.toList
  }
  implicit class PolynoteMap[K, V](private val map: Map[K, V]) extends AnyVal {
    def asScalaMap: Map[K, V] = map
  }
  implicit class PolynoteValue(private val value: Any) extends AnyVal {
    def as[T]: T = value.asInstanceOf[T]
  }
}

object Values {
  // Python values handed to a cell by key; a synchronized map because nulls are values too.
  private val slots = java.util.Collections.synchronizedMap(new java.util.HashMap[String, Any]())

  def put(key: String, value: Any): Unit = slots.put(key, value)
  def take(key: String): Any = slots.remove(key)
  def clear(): Unit = slots.clear()
  def proxy(handle: Any): PythonObject = new PythonObject(handle.asInstanceOf[BiFunction[String, Array[Object], Object]])
  def handleOf(value: Any): Any = value match {
    case p: PythonObject => p.handle
    case _ => null
  }

  /** What py4j hands Scala from Python (java.util collections, boxed numbers) as Scala values. */
  def fromPython(value: Any): Any = value match {
    case l: java.util.List[_] => l.asScala.iterator.map(fromPython).toList
    case m: java.util.Map[_, _] => m.asScala.iterator.map { case (k, v) => fromPython(k) -> fromPython(v) }.toMap
    case s: java.util.Set[_] => s.asScala.iterator.map(fromPython).toSet
    case h: BiFunction[_, _, _] if java.lang.reflect.Proxy.isProxyClass(h.getClass) =>
      new PythonObject(h.asInstanceOf[BiFunction[String, Array[Object], Object]])
    case other => other
  }

  def toPython(value: Any): Any = value match {
    case p: PythonObject => p.handle
    case other => other
  }

  /** Whether every public method `name` of `value` returns a Float: py4j sends a Float as its shortest decimal
    * text, which Python then reads as a double ("4.141593"); the Python side widens it back exactly. */
  def returnsFloat(value: Any, name: String): Boolean = {
    val methods = value.getClass.getMethods.filter(_.getName == name)
    methods.nonEmpty && methods.forall(m => m.getReturnType == java.lang.Float.TYPE || m.getReturnType == classOf[java.lang.Float])
  }

  def seqOf(value: Any): Seq[Any] = fromPython(value).asInstanceOf[Seq[Any]]
  def ints(value: Any): Seq[Int] = seqOf(value).map(_.asInstanceOf[Number].intValue)
  def longs(value: Any): Seq[Long] = seqOf(value).map(_.asInstanceOf[Number].longValue)
  def doubles(value: Any): Seq[Double] = seqOf(value).map(_.asInstanceOf[Number].doubleValue)
  def strings(value: Any): Seq[String] = seqOf(value).map(_.asInstanceOf[String])
  def booleans(value: Any): Seq[Boolean] = seqOf(value).map(_.asInstanceOf[Boolean])
  def mapOf(value: Any): Map[Any, Any] = fromPython(value).asInstanceOf[Map[Any, Any]]

  /** Scala collections for Python: an Object[] of the elements (py4j gives Python a sequence view). */
  def elements(value: Any): Array[Object] = value match {
    case a: Array[_] => a.map(_.asInstanceOf[AnyRef]).asInstanceOf[Array[Object]]
    case m: scala.collection.Map[_, _] => m.iterator.map { case (k, v) => Array[Object](k.asInstanceOf[AnyRef], v.asInstanceOf[AnyRef]) }.toArray[Object]
    case i: IterableOnce[_] => i.iterator.map(_.asInstanceOf[AnyRef]).toArray[Object]
    case j: java.lang.Iterable[_] => j.asScala.iterator.map(_.asInstanceOf[AnyRef]).toArray[Object]
  }

  /** "seq", "map", "array", "product" (case classes and tuples) or "" for how Python should see a JVM value. */
  def shape(value: Any): String = value match {
    case _: Array[_] => "array"
    case _: scala.collection.Map[_, _] | _: java.util.Map[_, _] => "map"
    case _: scala.collection.Iterable[_] | _: java.util.Collection[_] => "seq"
    case _: Option[_] => ""
    case p: Product if p.productArity > 0 => "product"
    case _ => ""
  }

  def productNames(value: Product): Array[String] = value.productElementNames.toArray
}

/** Runs a cell's object initialiser (the cell's code) on its own thread so it can be stopped. */
object Runner {
  @volatile private var current: Thread = null
  @volatile private var stopped = false
  val buffer = new ByteArrayOutputStream()
  private val out = new PrintStream(buffer, true, "UTF-8")

  @volatile var result: AnyRef = null

  /** Construct the cell's class (which runs the cell's code) with `args`; null when it ran, else what stopped it. */
  def run(loader: ClassLoader, className: String, args: Array[Object]): Throwable = {
    var failure: Throwable = null
    stopped = false
    result = null
    val thread = new Thread(() => {
      try Console.withOut(out) { Console.withErr(out) {
        result = Class.forName(className, true, loader).getConstructors()(0).newInstance(args: _*).asInstanceOf[AnyRef]
      } }
      catch {
        case e: java.lang.reflect.InvocationTargetException => failure = if (e.getCause != null) e.getCause else e
        case e: Throwable => failure = e
      }
    }, "quire-scala-cell")
    thread.setContextClassLoader(loader)
    current = thread
    thread.start()
    thread.join()
    current = null
    out.flush()
    if (stopped && failure == null) new InterruptedException("interrupted") else failure
  }

  def wasStopped: Boolean = stopped

  /** Output printed since the last drain (Console.out/err of cells). */
  def drain(): String = buffer.synchronized {
    val text = buffer.toString("UTF-8")
    buffer.reset()
    text
  }

  /** Interrupt the running cell; a loop that ignores interrupts is stopped outright after `graceMs`. */
  @annotation.nowarn("cat=deprecation")
  def interrupt(graceMs: Long): Boolean = {
    val thread = current
    if (thread == null) return false
    stopped = true
    thread.interrupt()
    thread.join(graceMs)
    if (thread.isAlive) thread.stop()
    true
  }

  /** Message and the stack frames that belong to `objectName` (the cell), as (class, method, line). */
  def frames(error: Throwable, objectName: String): String =
    Rows(error.getStackTrace.toSeq.filter(f => f.getClassName.startsWith(objectName)).map { f =>
      Seq(f.getClassName, f.getMethodName, f.getLineNumber.toString)
    })

  def compilerFor(intp: IMain): Compiler = new Compiler(intp)
}

/** Rows of fields in one string, so Python gets a whole answer in one py4j round trip. */
object Rows {
  def apply(rows: Iterable[Seq[String]]): String = rows.map(_.mkString("\u001f")).mkString("\u001e")
}

/** Cell analysis and compilation through the notebook's IMain, with diagnostics kept with their offsets. */
class Compiler(val intp: IMain) {
  private val global = intp.global
  import global._

  private val store = new StoreReporter(intp.settings)
  private var classes: Map[String, Symbol] = Map.empty

  private def collecting[T](body: => T): (T, Array[Array[String]]) = {
    val saved = global.reporter
    store.reset()
    global.reporter = store
    try {
      val result = body
      val infos = store.infos.toArray.map { info =>
        val pos = info.pos
        val (start, point, end) =
          if (!pos.isDefined) ("-1", "-1", "-1")
          else if (pos.isRange) (pos.start.toString, pos.point.toString, pos.end.toString)
          else (pos.point.toString, pos.point.toString, pos.point.toString)
        Array(info.severity.toString, start, point, end, info.msg)
      }
      (result, infos)
    } finally global.reporter = saved
  }

  /** Top-level statements of a cell: [start, end, isExpression] offsets, or the syntax errors. */
  def statements(code: String): String = intp.global.synchronized {
    val (trees, infos) = collecting {
      val run = new Run()
      val unit = new CompilationUnit(new BatchSourceFile("<cell>", code))
      val parser = new syntaxAnalyzer.UnitParser(unit)
      val stats = parser.parseStats()
      val _ = run
      stats
    }
    val rows = trees.filter(_.pos.isDefined).map { tree =>
      val expression = tree.isTerm && !tree.isDef && !tree.isInstanceOf[Assign] && !tree.isInstanceOf[Import]
      Array(tree.pos.start, tree.pos.end, if (expression) 1 else 0)
    }
    if (infos.exists(_(0) == "ERROR")) Rows(infos.map(i => ("E" +: i).toSeq))
    else Rows(rows.map(r => Seq("S", r(0).toString, r(1).toString, r(2).toString)))
  }

  /** Compile one source file; diagnostics as [severity, start, point, end, message]. */
  def compile(label: String, code: String): String = intp.global.synchronized {
    val (ok, infos) = collecting {
      val run = new Run()
      run.compileSources(List(new BatchSourceFile(label, code)))
      // The empty package forgets REPL classes between runs, so keep the symbols this run defined.
      classes = run.units.flatMap(_.body.collect { case c: ClassDef => c.symbol.name.toString -> c.symbol }).toMap
      !store.hasErrors
    }
    Rows(Seq(if (ok) "ok" else "failed") +: infos.toSeq.map(_.toSeq))
  }

  /** Public members of a compiled object: [name, kind, type], in declaration order. */
  def members(objectName: String): String = Rows(memberRows(objectName).map(_.toSeq))

  private def memberRows(objectName: String): Array[Array[String]] = intp.global.synchronized {
    exitingTyper {
      val module = classes.getOrElse(objectName, NoSymbol)
      if (module == NoSymbol) Array.empty[Array[String]]
      else {
        val decls = module.info.decls.toList
        val seen = scala.collection.mutable.LinkedHashMap[String, Array[String]]()
        decls.foreach { sym =>
          val name = sym.decodedName.trim
          val kind =
            if (!sym.isPublic || sym.isConstructor || name.contains("$") || name == "quireIn" || name.startsWith("quireDep")) ""
            else if (sym.isClass && sym.isCaseClass) "case class"
            else if (sym.isClass && sym.isTrait) "trait"
            else if (sym.isClass) "class"
            else if (sym.isAliasType || sym.isAbstractType) "type"
            else if (sym.isModule) "object"
            else if (sym.isSetter) ""
            else if (sym.isGetter) (if (sym.setterIn(module) != NoSymbol) "var" else "val")
            else if (sym.isMethod) "def"
            else ""
          if (kind.nonEmpty && !(seen.contains(name) && kind == "object")) {
            val tpe =
              if (sym.isClass || sym.isAliasType) sym.fullNameString
              else if (kind == "val" || kind == "var") sym.info.resultType.toString
              else sym.info.toString
            seen(name) = Array(name, kind, tpe)
          }
        }
        seen.values.toArray
      }
    }
  }

  /** Completions at `pos` of a whole compilation unit (a cell's help source, in the empty package like the
   *  cells' classes it imports): [label, kind, signature]. A case class's companion also answers with its
   *  `apply`s' parameters, so `Person(` can show them. */
  def complete(code: String, pos: Int): String = interactively(code) { (pc, source) =>
    import pc._
    val members = completionsAt(source.position(pos)).matchingResults()
    val rows = members.flatMap { m =>
      val sym = m.sym
      val name = sym.decodedName.trim
      if (name.contains("$") || sym.isConstructor || name.startsWith("quire")) Nil
      else {
        val seen = exitingTyper(if (sym.isClass || sym.isModule) sym.kindString + " " + name else sym.defStringSeenAs(m.tpe))
        val kind = if (sym.isMethod && !sym.isGetter && sym.paramss.nonEmpty) "method" else "value"
        val applies =
          if (!sym.isModule) Nil
          else exitingTyper(sym.info.member(nme.apply).alternatives.filter(_.isMethod).map { a =>
            Seq(name, "method", a.info.paramss.map(_.map(p => s"${p.decodedName}: ${p.info}").mkString("(", ", ", ")")).mkString + ": " + a.info.finalResultType)
          })
        Seq(name, kind, seen) +: applies
      }
    }
    Rows(rows.distinctBy(c => c(0) + c(2)))
  }

  /** The type (or signature) of what covers [start, end) of a compilation unit, for hover. */
  def typeAt(code: String, start: Int, end: Int): String = interactively(code) { (pc, source) =>
    import pc._
    val response = new Response[Tree]
    askTypeAt(new scala.reflect.internal.util.RangePosition(source, start, start, end), response)
    val tree = response.get.fold(identity, _ => EmptyTree)
    exitingTyper {
      val sym = tree.symbol
      if (tree.tpe == null || tree.tpe.isErroneous) ""
      else if (sym != null && sym != NoSymbol && !sym.isAnonymousFunction)
        (if (sym.isClass || sym.isModule) sym.kindString + " " + sym.fullNameString else sym.defStringSeenAs(tree.tpe.widen))
      else tree.tpe.widen.toString
    }
  }

  /** Type errors of a compilation unit as [severity, start, point, end, message], found without running it. */
  def check(code: String): String = interactively(code) { (pc, _) =>
    val infos = pc.reporter.asInstanceOf[StoreReporter].infos.toSeq
    Rows(infos.filter(_.pos.isDefined).map { info =>
      val pos = info.pos
      val (start, end) = if (pos.isRange) (pos.start, pos.end) else (pos.point, pos.point)
      Seq(info.severity.toString, start.toString, pos.point.toString, end.toString, info.msg)
    })
  }

  // A fresh presentation compiler per request: it reads the cells' classes from the REPL's output directory
  // (new since the last request) and types the source directly, not inside a REPL line's wrapper, whose
  // package could not see the empty package the cells' classes live in.
  private def interactively(code: String)(body: (scala.tools.nsc.interactive.Global, BatchSourceFile) => String): String = {
    val pc = intp.newPresentationCompiler()
    try {
      val source = new BatchSourceFile("<help>", code)
      val typed = new pc.Response[pc.Tree]
      pc.askLoadedTyped(source, keepLoaded = true, typed)
      typed.get
      body(pc, source)
    } finally pc.askShutdown()
  }
}
