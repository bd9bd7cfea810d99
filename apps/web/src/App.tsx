import { Suspense, lazy, useEffect, type ComponentType, type FormEvent, type LazyExoticComponent } from 'react';
import { announcement } from './announce';
import { messageOf } from './api';
import { itemsText, refreshCart, useCart } from './cart';
import { matchPath, type Params } from './match';
import { Link, NavLink, currentPath, navigate, useLocation } from './router';
import { logout, revalidateSession, useSession } from './session';
import { useStore } from './store';
import { Alert, Loading } from './ui/Alert';
import { PageTitle } from './ui/PageTitle';

type PageProps = { params: Params };
type Page = LazyExoticComponent<ComponentType<PageProps>>;

/** Every page is its own chunk: the first load carries only the shell and the page it opens. */
function page<K extends string>(load: () => Promise<Record<K, ComponentType<PageProps>>>, name: K): Page {
  return lazy(() => load().then((module) => ({ default: module[name] })));
}

const Home = page(() => import('./pages/Home'), 'HomePage');
const Search = page(() => import('./pages/Search'), 'SearchPage');
const ProductPage = page(() => import('./pages/Product'), 'ProductPage');
const CartPage = page(() => import('./pages/Cart'), 'CartPage');
const Checkout = page(() => import('./pages/Checkout'), 'CheckoutPage');
const Orders = page(() => import('./pages/Orders'), 'OrdersPage');
const OrderDetail = page(() => import('./pages/OrderDetail'), 'OrderDetailPage');
const Login = page(() => import('./pages/Account'), 'LoginPage');
const Register = page(() => import('./pages/Account'), 'RegisterPage');
const Admin = page(() => import('./admin/AdminApp'), 'AdminApp');
const FlashSalePage = page(() => import('./pages/FlashSale'), 'FlashSalePage');

type Access = 'public' | 'user' | 'admin';
interface Route {
  path: string;
  page: Page;
  access: Access;
}

const ROUTES: readonly Route[] = [
  { path: '/', page: Home, access: 'public' },
  { path: '/search', page: Search, access: 'public' },
  { path: '/products/:id(uuid)', page: ProductPage, access: 'public' },
  { path: '/flash-sales/:id(uuid)', page: FlashSalePage, access: 'public' },
  { path: '/login', page: Login, access: 'public' },
  { path: '/register', page: Register, access: 'public' },
  { path: '/cart', page: CartPage, access: 'user' },
  { path: '/checkout', page: Checkout, access: 'user' },
  { path: '/orders', page: Orders, access: 'user' },
  { path: '/orders/:id(uuid)', page: OrderDetail, access: 'user' },
];

function resolve(pathname: string): { route: Route; params: Params } | undefined {
  if (pathname === '/admin' || pathname.startsWith('/admin/')) return { route: { path: '/admin/*', page: Admin, access: 'admin' }, params: {} };
  for (const route of ROUTES) {
    const params = matchPath(route.path, pathname);
    if (params) return { route, params };
  }
  return undefined;
}

function SignInRequired() {
  const next = encodeURIComponent(currentPath());
  useEffect(() => {
    navigate(`/login?next=${next}`, { replace: true });
  }, [next]);
  return <Loading label="Taking you to sign in…" />;
}

function Forbidden() {
  return (
    <>
      <PageTitle title="Admins only">Admins only</PageTitle>
      <Alert kind="error" title="This area needs the admin role.">
        <p>
          You are signed in as a customer. <Link to="/">Back to the shop</Link>
        </p>
      </Alert>
    </>
  );
}

function NotFound() {
  return (
    <>
      <PageTitle title="Page not found">Page not found</PageTitle>
      <p>
        There is nothing at this address. <Link to="/">Go to the shop</Link> or <Link to="/search">search the catalog</Link>.
      </p>
    </>
  );
}

function Routes() {
  const { pathname } = useLocation();
  const session = useSession();
  const match = resolve(pathname);
  if (!match) return <NotFound />;
  const { route, params } = match;
  if (route.access !== 'public' && !session) return <SignInRequired />;
  if (route.access === 'admin' && session?.user.role !== 'admin') return <Forbidden />;
  const Component = route.page;
  return <Component key={route.path === '/admin/*' ? 'admin' : pathname} params={params} />;
}

function HeaderSearch() {
  const { pathname } = useLocation();
  if (pathname === '/search') return null;
  const submit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const q = new FormData(event.currentTarget).get('q');
    navigate(`/search?q=${encodeURIComponent(typeof q === 'string' ? q : '')}`);
  };
  return (
    <form role="search" className="header-search" onSubmit={submit}>
      <label htmlFor="header-q" className="visually-hidden">
        Search products
      </label>
      <input id="header-q" name="q" type="search" placeholder="Search products" autoComplete="off" />
      <button type="submit">Search</button>
    </form>
  );
}

function CartLink() {
  const cart = useCart();
  const count = cart?.itemCount ?? 0;
  return (
    <NavLink to="/cart" className="cart-link">
      Cart <span className="cart-count" aria-label={itemsText(count)}>{count}</span>
    </NavLink>
  );
}

function Header() {
  const session = useSession();
  return (
    <header className="site-header">
      <div className="header-inner">
        <Link to="/" className="brand">
          <span aria-hidden="true" className="brand-mark">
            A
          </span>
          Agora
        </Link>
        <HeaderSearch />
        <nav aria-label="Main" className="main-nav">
          <ul>
            <li>
              <NavLink to="/search">Browse</NavLink>
            </li>
            {session ? (
              <>
                <li>
                  <CartLink />
                </li>
                <li>
                  <NavLink to="/orders" matchPrefix>
                    Orders
                  </NavLink>
                </li>
                {session.user.role === 'admin' ? (
                  <li>
                    <NavLink to="/admin" matchPrefix>
                      Admin
                    </NavLink>
                  </li>
                ) : null}
                <li>
                  <button
                    type="button"
                    className="link-button"
                    onClick={() => {
                      logout();
                      navigate('/');
                    }}
                  >
                    Sign out <span className="visually-hidden">{session.user.name}</span>
                  </button>
                </li>
              </>
            ) : (
              <>
                <li>
                  <NavLink to="/login">Sign in</NavLink>
                </li>
                <li>
                  <NavLink to="/register" className="button button-small">
                    Create account
                  </NavLink>
                </li>
              </>
            )}
          </ul>
        </nav>
      </div>
    </header>
  );
}

function LiveRegion() {
  const { text, id } = useStore(announcement);
  return (
    // The region stays mounted (a new one is not read out); a zero-width space on every other
    // message makes a repeated message a change too.
    <div className="visually-hidden" aria-live="polite" aria-atomic="true" data-testid="announcer">
      {text}
      {id % 2 === 1 ? '\u200b' : ''}
    </div>
  );
}

function useStartup(): void {
  const session = useSession();
  const token = session?.token;
  useEffect(() => {
    if (!token) return;
    revalidateSession()
      .then(() => refreshCart())
      .catch((err: unknown) => console.warn('could not restore the session:', messageOf(err)));
  }, [token]);
}

export function App() {
  useStartup();
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<Loading />}>
          <Routes />
        </Suspense>
      </main>
      <footer className="site-footer">
        <p>
          Agora — an open-source shop that scales out and stays up. Sandbox payments only. <a href="/api/docs">API docs</a>
        </p>
      </footer>
      <LiveRegion />
    </>
  );
}
